namespace FusedRnn.Hosting;

/// <summary>A model was asked for by a name the configuration does not have; the message lists the names it has.</summary>
public sealed class UnknownModelException : KeyNotFoundException
{
    /// <summary>Creates the exception for <paramref name="name"/>.</summary>
    public UnknownModelException(string name, IEnumerable<string> known)
        : base($"no FusedRnn model is named '{name}'; configured: {string.Join(", ", known.Order(StringComparer.OrdinalIgnoreCase).Select(n => $"'{n}'"))}")
    {
        ModelName = name;
    }

    /// <summary>The name asked for.</summary>
    public string ModelName { get; }
}
