using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansLm.Bench;

namespace OrleansLm.GatewayBench;

/// <summary>
/// What a closed loop of clients got in its measured window: the latencies of the calls that started in it (ms), the
/// calls and units (tokens) completed in it per second, and the cores the rest of the machine kept busy meanwhile.
/// </summary>
internal sealed record LoadResult(IReadOnlyList<double> LatenciesMs, double CallsPerSecond, double UnitsPerSecond, double OthersCores)
{
    public double P50 => Samples.Percentile(LatenciesMs, 0.5);

    public double P99 => Samples.Percentile(LatenciesMs, 0.99);
}

/// <summary>Closed-loop load: each client makes one call after another, as a user waiting for each answer would.</summary>
internal static class ClientLoad
{
    /// <summary>
    /// Runs <paramref name="clients"/> loops of <paramref name="call"/> for <paramref name="warmup"/> (not measured), then for
    /// the <paramref name="measured"/> window. Throughput counts the calls that ended in the window; latencies are those of
    /// the calls that started in it, so each client goes on past the window until one of those has ended (a load whose
    /// calls take longer than the window still yields a latency per client). A call gets its client's index and its own
    /// index within that client (to vary prompts and seeds) and returns the units it completed (tokens).
    /// <paramref name="children"/> are the benchmark's own processes besides this one (the silos), for the machine's CPU.
    /// </summary>
    public static async Task<LoadResult> RunAsync(
        int clients, TimeSpan warmup, TimeSpan measured, Func<int, int, Task<int>> call, IReadOnlyList<Process> children)
    {
        var calls = new ConcurrentBag<Call>();
        var clock = Stopwatch.StartNew();
        var (windowStart, windowEnd) = (Ticks(warmup), Ticks(warmup + measured));
        var loops = Loops(clients, clock, windowStart, windowEnd, call, calls);
        await Task.Delay(warmup);
        var cpu = MachineCpu.Now(children);
        var left = warmup + measured - clock.Elapsed;
        if (left > TimeSpan.Zero) await Task.Delay(left);
        var others = cpu.OthersCoresSince();
        await loops;

        var completed = calls.Where(c => c.End >= windowStart && c.End <= windowEnd).ToList();
        var latencies = calls.Where(c => c.Start >= windowStart && c.Start < windowEnd).Select(c => (c.End - c.Start) * 1e3 / Stopwatch.Frequency).ToList();
        return new LoadResult(latencies, completed.Count / measured.TotalSeconds, completed.Sum(c => c.Units) / measured.TotalSeconds, others);
    }

    /// <summary>The same load for <paramref name="duration"/>, measuring nothing: loads the model, compiles the code paths.</summary>
    public static Task WarmUpAsync(int clients, TimeSpan duration, Func<int, int, Task<int>> call) =>
        Loops(clients, Stopwatch.StartNew(), Ticks(TimeSpan.Zero), Ticks(duration), call, new ConcurrentBag<Call>());

    /// <summary>
    /// Each client's loop: it calls until <paramref name="clock"/> has passed <paramref name="windowEnd"/> and one of its
    /// calls that started at or after <paramref name="windowStart"/> has ended. Each call's start, end and units go to
    /// <paramref name="calls"/>.
    /// </summary>
    private static Task Loops(int clients, Stopwatch clock, long windowStart, long windowEnd, Func<int, int, Task<int>> call, ConcurrentBag<Call> calls) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            var measuredOne = false;
            for (var index = 0; clock.ElapsedTicks < windowEnd || !measuredOne; index++)
            {
                var start = clock.ElapsedTicks;
                var units = await call(client, index);
                calls.Add(new Call(start, clock.ElapsedTicks, units));
                measuredOne |= start >= windowStart;
            }
        })));

    private static long Ticks(TimeSpan time) => (long)(time.TotalSeconds * Stopwatch.Frequency);

    /// <summary>One call: when it started and ended (<see cref="Stopwatch"/> ticks since the load began) and the units it completed.</summary>
    private readonly record struct Call(long Start, long End, int Units);
}
