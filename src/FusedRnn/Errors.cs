namespace FusedRnn;

/// <summary>
/// An argument has the wrong shape or size. <see cref="ArgumentException.ParamName"/> names it and
/// <see cref="ExpectedShape"/> says what the model needs.
/// </summary>
public sealed class ShapeMismatchException : ArgumentException
{
    /// <summary>Creates the exception; the message names the parameter, the expected and the actual shape.</summary>
    public ShapeMismatchException(string paramName, string expectedShape, string actual, string meaning)
        : base($"{paramName} must have shape {expectedShape} ({meaning}) but {actual}", paramName)
    {
        ExpectedShape = expectedShape;
    }

    /// <summary>The expected shape, e.g. <c>[2, 3, 7]</c>.</summary>
    public string ExpectedShape { get; }
}

/// <summary>
/// A set of weights does not describe a valid network: a tensor is missing, extra, or has a shape that
/// contradicts the others. <see cref="ArgumentException.ParamName"/> names the tensor.
/// </summary>
public sealed class InvalidWeightsException : ArgumentException
{
    /// <summary>Creates the exception for the named tensor.</summary>
    public InvalidWeightsException(string tensorName, string message)
        : base(message, tensorName)
    {
    }
}

/// <summary>A backend was asked for by name but cannot run here; the message says what is missing.</summary>
public sealed class BackendUnavailableException : NotSupportedException
{
    /// <summary>Creates the exception for backend <paramref name="backend"/>.</summary>
    public BackendUnavailableException(string backend, string reason)
        : base($"backend '{backend}' is not available: {reason}")
    {
        Backend = backend;
    }

    /// <summary>The backend that was asked for.</summary>
    public string Backend { get; }
}
