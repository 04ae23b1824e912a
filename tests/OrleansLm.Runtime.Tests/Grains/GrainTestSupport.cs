using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;

namespace OrleansLm.Runtime.Tests.Grains;

/// <summary>What test grains report to their test: a DI singleton of the silo, so grains take it as a constructor service.</summary>
public sealed class GrainProbe
{
    private int constructed;
    private int inFlight;
    private int maxInFlight;
    private int executing;
    private int maxExecuting;
    private int ticks;

    public ConcurrentQueue<string> Events { get; } = new();

    public ConcurrentQueue<(GrainId Grain, DeactivationReason Reason)> Deactivations { get; } = new();

    /// <summary>Grains that wait for the test await this.</summary>
    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Constructed => Volatile.Read(ref constructed);

    public int InFlight => Volatile.Read(ref inFlight);

    public int MaxInFlight => Volatile.Read(ref maxInFlight);

    public int MaxExecuting => Volatile.Read(ref maxExecuting);

    public int Ticks => Volatile.Read(ref ticks);

    public void Record(string e) => Events.Enqueue(e);

    public void OnConstructed() => Interlocked.Increment(ref constructed);

    public void OnDeactivated(GrainId grain, DeactivationReason reason) => Deactivations.Enqueue((grain, reason));

    public void OnTick() => Interlocked.Increment(ref ticks);

    /// <summary>A call or tick starts; tracks how many overlap, across their awaits.</summary>
    public void Enter() => RaiseMax(ref maxInFlight, Interlocked.Increment(ref inFlight));

    public void Exit() => Interlocked.Decrement(ref inFlight);

    /// <summary>
    /// A stretch of synchronous grain code long enough that two threads running the same activation at once
    /// would overlap in it; tracks how many ever did.
    /// </summary>
    public void ExecuteSynchronously()
    {
        RaiseMax(ref maxExecuting, Interlocked.Increment(ref executing));
        Thread.SpinWait(20_000);
        Interlocked.Decrement(ref executing);
    }

    private static void RaiseMax(ref int max, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref max)) && Interlocked.CompareExchange(ref max, value, seen) != seen)
        {
        }
    }
}

/// <summary>A started silo runtime over a DI container with the test assembly's grains and a <see cref="GrainProbe"/>.</summary>
public sealed class TestSilo : IAsyncDisposable
{
    private readonly ServiceProvider services;

    private TestSilo(ServiceProvider services)
    {
        this.services = services;
        Runtime = services.GetRequiredService<SiloRuntime>();
    }

    public SiloRuntime Runtime { get; }

    public IGrainFactory Grains => Runtime.GrainFactory;

    public GrainProbe Probe => services.GetRequiredService<GrainProbe>();

    public IServiceProvider Services => services;

    public static async Task<TestSilo> StartAsync(Action<GrainRuntimeOptions>? configure = null, Action<IServiceCollection>? register = null)
    {
        var collection = new ServiceCollection();
        collection.AddGrainRuntime(configure).AddGrainsFromAssembly(typeof(TestSilo).Assembly);
        register?.Invoke(collection);
        collection.AddSingleton<GrainProbe>();
        var silo = new TestSilo(collection.BuildServiceProvider());
        await silo.Runtime.StartAsync(CancellationToken.None);
        return silo;
    }

    public async ValueTask DisposeAsync()
    {
        // Grains that wait at the gate, OnDeactivateAsync included, must not hold up the stop.
        Probe.Gate.TrySetResult();
        await Runtime.StopAsync(CancellationToken.None);
        await services.DisposeAsync();
    }
}

/// <summary>Timestamps that move only when told to; timers stay real (the base TimeProvider's).</summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private long ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref ticks);

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch + TimeSpan.FromTicks(GetTimestamp());

    public void Advance(TimeSpan by) => Interlocked.Add(ref ticks, by.Ticks);
}

public static class Wait
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test after <see cref="Bound"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"gave up waiting until {what}");
            await Task.Delay(2);
        }
    }
}
