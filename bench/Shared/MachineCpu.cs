using System.Diagnostics;
using System.Globalization;

namespace OrleansLm.Bench;

/// <summary>
/// The machine's busy CPU time (Linux, the first line of /proc/stat: all but idle and iowait) next to the benchmark's
/// own (this process's and those of the processes it started), so that a run can say how much CPU the rest of the
/// machine (other builds and tests on a shared box) took meanwhile.
/// </summary>
internal readonly record struct MachineCpu(double BusySeconds, double OwnSeconds, long Timestamp, IReadOnlyList<Process> Own)
{
    private const string Stat = "/proc/stat";

    /// <summary>/proc/stat counts in USER_HZ, 100 per second on every Linux architecture .NET runs on.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>A reading; <paramref name="children"/> are processes the benchmark started, whose CPU time is its own too.</summary>
    public static MachineCpu Now(params IReadOnlyList<Process> children)
    {
        IReadOnlyList<Process> own = [Process.GetCurrentProcess(), .. children];
        return new(MachineBusySeconds(), OwnSecondsOf(own), Stopwatch.GetTimestamp(), own);
    }

    /// <summary>Cores the rest of the machine kept busy, on average, since this reading (NaN off Linux).</summary>
    public double OthersCoresSince()
    {
        var (busy, own, now) = (MachineBusySeconds(), OwnSecondsOf(Own), Stopwatch.GetTimestamp());
        var others = (busy - BusySeconds) - (own - OwnSeconds);
        return Math.Max(0, others) / Stopwatch.GetElapsedTime(Timestamp, now).TotalSeconds;
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
            var busy = (MachineBusySeconds() - start.BusySeconds) / Stopwatch.GetElapsedTime(start.Timestamp).TotalSeconds / Environment.ProcessorCount;
            if (!(busy >= busyFraction) || clock.Elapsed >= limit) return busy;
        }
    }

    private static double OwnSecondsOf(IReadOnlyList<Process> processes) =>
        processes.Sum(process =>
        {
            // An exited child's time can no longer be read: the benchmark reads while its children run.
            process.Refresh();
            return process.HasExited ? 0 : process.TotalProcessorTime.TotalSeconds;
        });

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
