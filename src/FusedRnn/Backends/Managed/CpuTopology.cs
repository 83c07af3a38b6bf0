using System.Globalization;

namespace FusedRnn.Backends.Managed;

/// <summary>
/// The machine's cores, counted as the native library counts them (native/src/common/cpu_topology.cpp), so that
/// <see cref="RnnOptions.Threads"/> = 0 means the same on both backends.
/// </summary>
internal static class CpuTopology
{
    private static readonly Lazy<int> PhysicalCores = new(CountPhysicalCores);

    /// <summary>
    /// Physical cores (SMT siblings count once): the distinct (package, core) pairs of the online CPUs in
    /// /sys/devices/system/cpu; <see cref="Environment.ProcessorCount"/> where that is unreadable. At least 1.
    /// </summary>
    public static int PhysicalCoreCount => PhysicalCores.Value;

    private static int CountPhysicalCores()
    {
        const string cpus = "/sys/devices/system/cpu/";
        try
        {
            if (File.Exists(cpus + "online") && ParseCpuList(File.ReadAllText(cpus + "online").Trim()) is { } online)
            {
                var cores = new HashSet<(int Package, int Core)>();
                foreach (int cpu in online)
                {
                    string topology = $"{cpus}cpu{cpu}/topology/";
                    int package = ReadInt(topology + "physical_package_id"), core = ReadInt(topology + "core_id");
                    if (core < 0)
                    {
                        cores.Clear();
                        break;
                    }

                    cores.Add((package, core));
                }

                if (cores.Count > 0) return cores.Count;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return int.Max(1, Environment.ProcessorCount);
    }

    /// <summary>The CPU numbers of a list like "0-3,8,10-11"; null when it is malformed.</summary>
    internal static List<int>? ParseCpuList(string text)
    {
        var cpus = new List<int>();
        foreach (string range in text.Split(','))
        {
            string[] ends = range.Split('-');
            if (ends.Length > 2 || !int.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out int first)) return null;
            int last = first;
            if (ends.Length == 2 && !int.TryParse(ends[1], NumberStyles.None, CultureInfo.InvariantCulture, out last)) return null;
            for (int cpu = first; cpu <= last; cpu++) cpus.Add(cpu);
        }

        return cpus;
    }

    /// <summary>The integer a sysfs file holds, or −1 where it is missing or unreadable.</summary>
    private static int ReadInt(string path) =>
        File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value : -1;
}
