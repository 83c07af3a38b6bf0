using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FusedRnn.Hosting;

/// <summary>
/// Checks every model's options before the host starts (<c>ValidateOnStart</c>): each failure names the setting by its
/// configuration path (<c>FusedRnn:Models:NAME:SETTING</c>) and says what it must be.
/// </summary>
internal sealed class FusedRnnOptionsValidator(IHostEnvironment? environment = null) : IValidateOptions<FusedRnnOptions>
{
    public ValidateOptionsResult Validate(string? name, FusedRnnOptions options)
    {
        var failures = new List<string>();
        if (options.Models.Count == 0) failures.Add("FusedRnn:Models names no model; configure at least one (FusedRnn:Models:NAME:Path)");
        foreach ((string model, FusedRnnModelOptions settings) in options.Models)
        {
            string at = $"FusedRnn:Models:{model}";
            if (string.IsNullOrWhiteSpace(model)) failures.Add("FusedRnn:Models has a model with an empty name");
            if (settings is null)
            {
                failures.Add($"{at} has no settings");
                continue;
            }

            if (string.IsNullOrWhiteSpace(settings.Path)) failures.Add($"{at}:Path is not set; name the model's file");
            else if (!File.Exists(ModelFiles.Resolve(settings.Path, environment))) failures.Add($"{at}:Path is '{settings.Path}', which does not exist (relative paths start at the content root, {environment?.ContentRootPath ?? Environment.CurrentDirectory})");
            else if (ModelFiles.FormatOf(settings.Path) is null) failures.Add($"{at}:Path is '{settings.Path}'; a model file ends in .safetensors, .onnx, .keras or .h5");
            if (settings.Description is { } description)
            {
                if (settings.Path is { } path && ModelFiles.FormatOf(path) != ModelFiles.Format.Safetensors)
                    failures.Add($"{at}:Description describes a .safetensors whole model; '{settings.Path}' is not one (ONNX and Keras files describe themselves)");
                else if (!File.Exists(ModelFiles.Resolve(description, environment)))
                    failures.Add($"{at}:Description is '{description}', which does not exist");
            }

            string[] backends = settings.BackendOrder;
            if (backends.Length == 0) failures.Add($"{at}:Backends is empty; list backends in the order to try, e.g. 'cpu, managed'");
            foreach (string backend in backends.Where(backend => !RnnBackends.Names.Contains(backend)))
                failures.Add($"{at}:Backends names '{backend}', which is not a backend ({string.Join(", ", RnnBackends.Names)})");
            if (!Enum.IsDefined(settings.Precision)) failures.Add($"{at}:Precision is {settings.Precision}; it is Float32 or Float64");
            if (!Enum.IsDefined(settings.Nonlinearity)) failures.Add($"{at}:Nonlinearity is {settings.Nonlinearity}; it is Tanh or Relu");
            if (settings.Threads < 0) failures.Add($"{at}:Threads is {settings.Threads}; it is 0 (the backend's default) or more");
            try
            {
                settings.BatcherOptions(model).Validate(model);
            }
            catch (ArgumentException e)
            {
                failures.Add($"{at}: {FirstLine(e.Message)}");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>An ArgumentException's message without the " (Parameter ...)" and actual-value lines it appends.</summary>
    private static string FirstLine(string message) => message.Split('\n')[0].Split(" (Parameter ")[0].Trim();
}
