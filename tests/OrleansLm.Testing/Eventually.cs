using System.Diagnostics;

namespace OrleansLm.Testing;

/// <summary>Waits, bounded, for something a cluster does in its own time.</summary>
public static class Eventually
{
    public static Task<TimeSpan> HoldsAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        HoldsAsync(() => Task.FromResult(condition()), timeout, what);

    /// <summary>Polls <paramref name="condition"/> until it holds, failing the test after <paramref name="timeout"/>; returns how long it took.</summary>
    public static async Task<TimeSpan> HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"not within {timeout}: {what}");
            await Task.Delay(10);
        }
        return clock.Elapsed;
    }
}
