namespace FusedRnn;

/// <summary>The recurrent cell a layer is made of, with PyTorch's gate order.</summary>
public enum CellKind
{
    /// <summary>Long short-term memory: gates i, f, g, o (PyTorch order); optional projection of h.</summary>
    Lstm = 0,

    /// <summary>Gated recurrent unit: gates r, z, n, with the reset gate applied to <c>W_hn h + b_hn</c>.</summary>
    Gru = 1,

    /// <summary>Elman RNN with tanh.</summary>
    RnnTanh = 2,

    /// <summary>Elman RNN with ReLU.</summary>
    RnnRelu = 3,
}

/// <summary>The nonlinearity of an Elman RNN, as PyTorch's <c>nonlinearity</c> argument.</summary>
public enum RnnNonlinearity
{
    /// <summary><c>h' = tanh(W_ih x + b_ih + W_hh h + b_hh)</c>.</summary>
    Tanh,

    /// <summary><c>h' = relu(W_ih x + b_ih + W_hh h + b_hh)</c>.</summary>
    Relu,
}

/// <summary>Facts about each <see cref="CellKind"/>.</summary>
public static class CellKindExtensions
{
    /// <summary>Number of gate blocks stacked in <c>weight_ih</c>/<c>weight_hh</c>: 4 (LSTM), 3 (GRU), 1 (RNN).</summary>
    public static int GateCount(this CellKind kind) => kind switch
    {
        CellKind.Lstm => 4,
        CellKind.Gru => 3,
        CellKind.RnnTanh or CellKind.RnnRelu => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown cell kind"),
    };

    /// <summary>True for LSTM, the only kind with a cell state c.</summary>
    public static bool HasCellState(this CellKind kind) => kind == CellKind.Lstm;

    /// <summary>The kind's PyTorch module name (LSTM, GRU, RNN_TANH, RNN_RELU).</summary>
    public static string DisplayName(this CellKind kind) => kind switch
    {
        CellKind.Lstm => "LSTM",
        CellKind.Gru => "GRU",
        CellKind.RnnTanh => "RNN_TANH",
        CellKind.RnnRelu => "RNN_RELU",
        _ => kind.ToString(),
    };

    /// <summary>The Elman kind for a nonlinearity.</summary>
    public static CellKind ToCellKind(this RnnNonlinearity nonlinearity) =>
        nonlinearity == RnnNonlinearity.Relu ? CellKind.RnnRelu : CellKind.RnnTanh;
}
