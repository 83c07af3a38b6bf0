namespace FusedRnn;

/// <summary>
/// The arithmetic of a forward pass. Weights, inputs and outputs are float32 in both; what differs is what the kernels
/// compute in (see the README's Precision section for the accuracy each one is held to).
/// </summary>
public enum RnnPrecision
{
    /// <summary>
    /// The default: float32 products, sums, activations and state, with FMA — what PyTorch, ONNX Runtime and oneDNN
    /// compute, at full vector width.
    /// </summary>
    Float32,

    /// <summary>
    /// The exact mode: float32 storage, every sum, activation and state in double; matches PyTorch's float64 answer
    /// to within 1e-5 (in practice a float32 rounding of it).
    /// </summary>
    Float64,
}
