using System.Globalization;

namespace OrleansLm.Bench;

/// <summary>
/// Process- and machine-wide counters read around a run of calls, to say where a call's time goes: thread-pool work
/// items completed (each a hop from one thread-pool thread to another, socket completions included), bytes allocated
/// on the managed heap, and TCP segments sent (Linux, from /proc/net/snmp, so counting any other TCP traffic of the
/// machine too; NaN elsewhere).
/// </summary>
internal readonly record struct CallCounters(long WorkItems, long AllocatedBytes, double TcpSegments)
{
    private const string Snmp = "/proc/net/snmp";

    public static CallCounters Now() => new(ThreadPool.CompletedWorkItemCount, GC.GetTotalAllocatedBytes(), TcpSegmentsSent());

    /// <summary>What the counters grew by since <paramref name="start"/>, per call.</summary>
    public PerCall Since(CallCounters start, long calls) =>
        new((WorkItems - start.WorkItems) / (double)calls, (AllocatedBytes - start.AllocatedBytes) / (double)calls, (TcpSegments - start.TcpSegments) / calls);

    /// <summary>The OutSegs field of the "Tcp:" lines (a header line naming the fields, then a line of values).</summary>
    private static double TcpSegmentsSent()
    {
        if (!File.Exists(Snmp)) return double.NaN;
        var tcp = File.ReadLines(Snmp).Where(line => line.StartsWith("Tcp:", StringComparison.Ordinal)).Select(line => line.Split(' ')).ToArray();
        var field = tcp.Length == 2 ? Array.IndexOf(tcp[0], "OutSegs") : -1;
        return field > 0 ? long.Parse(tcp[1][field], CultureInfo.InvariantCulture) : double.NaN;
    }
}

internal sealed record PerCall(double WorkItems, double AllocatedBytes, double TcpSegments);
