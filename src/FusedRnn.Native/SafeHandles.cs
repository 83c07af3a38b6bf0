using FusedRnn.Native.Interop;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace FusedRnn.Native;

/// <summary>
/// The two handles of one native call (an object and the workspace it runs on), referenced for the call's duration so
/// that another thread disposing either cannot free it mid-call.
/// </summary>
internal ref struct HandleReferences
{
    private readonly SafeHandle _first, _second;
    private bool _firstReferenced, _secondReferenced;

    public HandleReferences(SafeHandle first, SafeHandle second)
    {
        _first = first;
        _second = second;
        try
        {
            first.DangerousAddRef(ref _firstReferenced);
            second.DangerousAddRef(ref _secondReferenced);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_secondReferenced) _second.DangerousRelease();
        if (_firstReferenced) _first.DangerousRelease();
        _firstReferenced = _secondReferenced = false;
    }
}

/// <summary>Owns an <c>frnn_model</c>; releasing it calls <c>frnn_model_destroy</c>.</summary>
internal sealed class ModelSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public ModelSafeHandle()
        : base(ownsHandle: true)
    {
    }

    public FrnnModelHandle Value => new(handle);

    /// <summary>Takes ownership of a model <c>frnn_model_create</c> returned.</summary>
    public static ModelSafeHandle Own(FrnnModelHandle model)
    {
        var owner = new ModelSafeHandle();
        owner.SetHandle(model.Value);
        return owner;
    }

    protected override bool ReleaseHandle() => FrnnNative.frnn_model_destroy(new FrnnModelHandle(handle)) == FrnnStatus.Ok;
}

/// <summary>
/// Owns an <c>frnn_workspace</c>; releasing it calls <c>frnn_workspace_destroy</c>. It holds a reference on its
/// model's handle, so the model outlives every workspace created for it, even when finalizers run in any order.
/// </summary>
internal sealed class WorkspaceSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private ModelSafeHandle? model;

    public WorkspaceSafeHandle()
        : base(ownsHandle: true)
    {
    }

    public FrnnWorkspaceHandle Value => new(handle);

    /// <summary>Creates a workspace for <paramref name="model"/>.</summary>
    public static unsafe WorkspaceSafeHandle Create(ModelSafeHandle model)
    {
        var owner = new WorkspaceSafeHandle();
        bool referenced = false;
        try
        {
            model.DangerousAddRef(ref referenced);
            FrnnWorkspaceHandle workspace;
            NativeCall.Check(FrnnNative.frnn_workspace_create(model.Value, &workspace), nameof(FrnnNative.frnn_workspace_create));
            owner.SetHandle(workspace.Value);
            owner.model = model;
            return owner;
        }
        catch
        {
            if (referenced) model.DangerousRelease();
            throw;
        }
    }

    protected override bool ReleaseHandle()
    {
        bool released = FrnnNative.frnn_workspace_destroy(new FrnnWorkspaceHandle(handle)) == FrnnStatus.Ok;
        model?.DangerousRelease();
        return released;
    }
}

/// <summary>Owns an <c>frnn_dense</c>; releasing it calls <c>frnn_dense_destroy</c>.</summary>
internal sealed class DenseSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public DenseSafeHandle()
        : base(ownsHandle: true)
    {
    }

    public FrnnDenseHandle Value => new(handle);

    /// <summary>Takes ownership of a layer <c>frnn_dense_create</c> returned.</summary>
    public static DenseSafeHandle Own(FrnnDenseHandle dense)
    {
        var owner = new DenseSafeHandle();
        owner.SetHandle(dense.Value);
        return owner;
    }

    protected override bool ReleaseHandle() => FrnnNative.frnn_dense_destroy(new FrnnDenseHandle(handle)) == FrnnStatus.Ok;
}
