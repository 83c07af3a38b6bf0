namespace FusedRnn.Backends.Managed;

/// <summary>
/// The rules a variant policy applies in one direction, resolved from <see cref="RnnSpec.Cell"/>: every role's
/// activation (PyTorch's where the variant leaves it null), the clip and the coupled gate.
/// </summary>
/// <param name="Gates">LSTM i, f, o; GRU r, z; an Elman RNN's activation.</param>
/// <param name="Candidate">LSTM g, GRU n.</param>
/// <param name="Output">LSTM's activation of c in <c>h = o ⊙ h(c)</c>.</param>
/// <param name="Clip">0: none; else the bound of every gate pre-activation.</param>
/// <param name="CoupledInputForget">LSTM: f = 1 − i.</param>
internal sealed record CellRules(Activation Gates, Activation Candidate, Activation Output, float Clip, bool CoupledInputForget)
{
    /// <summary>The rules of direction <paramref name="direction"/> of <paramref name="spec"/>'s cell.</summary>
    public static CellRules For(RnnSpec spec, int direction)
    {
        CellVariant variant = spec.Cell;
        CellActivations activations = direction == 0 ? variant.Forward : variant.Reverse;
        Activation gates = spec.Kind switch
        {
            CellKind.RnnTanh => Activation.Tanh,
            CellKind.RnnRelu => Activation.Relu,
            _ => Activation.Sigmoid,
        };
        return new CellRules(
            activations.Gates ?? gates,
            activations.Candidate ?? Activation.Tanh,
            activations.Output ?? Activation.Tanh,
            variant.Clip,
            variant.CoupledInputForget);
    }
}
