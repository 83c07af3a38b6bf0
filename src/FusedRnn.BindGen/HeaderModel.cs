namespace FusedRnn.BindGen;

// What the generator knows about the header: C names and C types only; C# naming is the writer's job.

/// <summary>A C type as the bindings need it.</summary>
internal abstract record CType;

/// <summary>void, bool, a fixed-width integer or a floating-point type, already named as in C#.</summary>
internal sealed record CPrimitive(string CSharpName) : CType;

/// <summary>A struct, enum or opaque struct declared in the header.</summary>
internal sealed record CNamed(string CName, CNamedKind Kind) : CType;

internal enum CNamedKind { Struct, Enum, Opaque }

internal sealed record CPointer(CType Pointee) : CType;

internal sealed record CArray(CType Element, long Length) : CType;

/// <param name="Value">The replacement tokens of an object-like macro, as written.</param>
internal sealed record CConstant(string Name, string Value, string? Doc);

internal sealed record CEnumMember(string Name, long Value, string? Doc);

internal sealed record CEnum(string Name, CType UnderlyingType, IReadOnlyList<CEnumMember> Members, string? Doc);

/// <param name="Offset">In bytes, as clang lays the struct out for the target.</param>
internal sealed record CField(string Name, long Offset, CType Type, string? Doc);

internal sealed record CStruct(string Name, long Size, IReadOnlyList<CField> Fields, string? Doc);

/// <summary>A struct the header only declares: callers hold pointers to it.</summary>
internal sealed record COpaque(string Name, string? Doc);

/// <param name="CSpelling">The C type as written, for the signature comment.</param>
internal sealed record CParameter(string Name, CType Type, string CSpelling);

internal sealed record CFunction(string Name, CType Result, string ResultSpelling, IReadOnlyList<CParameter> Parameters, string? Doc);

internal sealed record HeaderModel(
    IReadOnlyList<CConstant> Constants,
    IReadOnlyList<CEnum> Enums,
    IReadOnlyList<CStruct> Structs,
    IReadOnlyList<COpaque> Opaques,
    IReadOnlyList<CFunction> Functions);
