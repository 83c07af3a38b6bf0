using FusedRnn.Fuzzing;
using SharpFuzz;

// fusedrnn-fuzz TARGET              under fuzz/driver's libFuzzer driver: serve inputs to TARGET until a crash
// fusedrnn-fuzz TARGET FILE...      run TARGET once per file, print what happened (reproduce a crash, debug)
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out FuzzTarget? target))
{
    Console.Error.WriteLine($"usage: FusedRnn.Fuzz TARGET [FILE...]; targets: {string.Join(", ", FuzzTargets.All.Keys)}");
    return 2;
}

if (args.Length == 1)
{
    if (Environment.GetEnvironmentVariable("__LIBFUZZER_SHM_ID") is null)
    {
        Console.Error.WriteLine("no libFuzzer driver: run this through fuzz/fuzz.sh, or pass input files to replay");
        return 2;
    }
    // Exceptions escaping the target are printed (to stderr) and reported to the driver as a crash.
    Fuzzer.LibFuzzer.Run(data => target(data));
    return 0;
}

int failures = 0;
foreach (string path in args.Skip(1))
{
    try
    {
        target(File.ReadAllBytes(path));
        Console.WriteLine($"ok    {path}");
    }
    catch (Exception e)
    {
        failures++;
        Console.WriteLine($"CRASH {path}");
        Console.WriteLine(e);
    }
}
return failures == 0 ? 0 : 1;
