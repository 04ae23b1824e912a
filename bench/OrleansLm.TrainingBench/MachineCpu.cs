using System.Diagnostics;
using System.Globalization;

namespace OrleansLm.TrainingBench;

/// <summary>
/// The machine's busy CPU time (Linux, the first line of /proc/stat: all but idle and iowait) next to this process's,
/// so that a run can say how much CPU the rest of the machine (other builds and tests on a shared box) took meanwhile.
/// </summary>
internal readonly record struct MachineCpu(double BusySeconds, double ProcessSeconds, long Timestamp)
{
    private const string Stat = "/proc/stat";

    /// <summary>/proc/stat counts in USER_HZ, 100 per second on every Linux architecture .NET runs on.</summary>
    private const double TicksPerSecond = 100;

    public static MachineCpu Now() => new(MachineBusySeconds(), Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, Stopwatch.GetTimestamp());

    /// <summary>Cores the rest of the machine kept busy, on average, since this reading (NaN off Linux).</summary>
    public double OthersCoresSince()
    {
        var now = Now();
        var others = (now.BusySeconds - BusySeconds) - (now.ProcessSeconds - ProcessSeconds);
        return Math.Max(0, others) / Stopwatch.GetElapsedTime(Timestamp, now.Timestamp).TotalSeconds;
    }

    /// <summary>
    /// Waits, up to <paramref name="limit"/>, for a second in which the machine's cores were less than
    /// <paramref name="busyFraction"/> busy; returns the fraction of the last second looked at.
    /// </summary>
    public static async Task<double> WaitForQuietAsync(TimeSpan limit, double busyFraction)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var start = Now();
            await Task.Delay(TimeSpan.FromSeconds(1));
            var busy = (Now().BusySeconds - start.BusySeconds) / Stopwatch.GetElapsedTime(start.Timestamp).TotalSeconds / Environment.ProcessorCount;
            if (!(busy >= busyFraction) || clock.Elapsed >= limit) return busy;
        }
    }

    private static double MachineBusySeconds()
    {
        if (!File.Exists(Stat)) return double.NaN;
        var fields = File.ReadLines(Stat).First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal (guest time is already counted in user; steal is time the host
        // gave to other machines, which slows this one's runs as much).
        var busy = fields.Take(8).Sum() - fields[3] - fields[4];
        return busy / TicksPerSecond;
    }
}
