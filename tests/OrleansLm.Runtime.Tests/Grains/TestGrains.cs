using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Tests.Grains;

// Grains the runtime tests drive. Each reports to the silo's GrainProbe, taken as a constructor service.

public interface ILifecycleGrain : IGrainWithStringKey
{
    /// <summary>The activation's own id: equal ids mean the same activation.</summary>
    Task<Guid> Ping();

    Task<Guid> PingThenDeactivate();

    Task<Guid> PingAndDelayDeactivation(TimeSpan period);
}

public sealed class LifecycleGrain : Grain, ILifecycleGrain
{
    private readonly Guid activationId = Guid.NewGuid();
    private readonly GrainProbe probe;

    public LifecycleGrain(GrainProbe probe)
    {
        this.probe = probe;
        probe.OnConstructed();
        probe.Record($"construct {GetPrimaryKeyString()}");
    }

    public Task<Guid> PingAndDelayDeactivation(TimeSpan period)
    {
        DelayDeactivation(period);
        return Task.FromResult(activationId);
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        probe.Record("activate begins");
        // Calls arriving now must wait for the activation to finish.
        await Task.Delay(20, cancellationToken);
        probe.Record("activate ends");
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        probe.Record($"deactivate {reason}");
        await probe.Gate.Task.WaitAsync(cancellationToken);
        probe.OnDeactivated(GrainId, reason);
    }

    public Task<Guid> Ping()
    {
        probe.Record("call");
        return Task.FromResult(activationId);
    }

    public Task<Guid> PingThenDeactivate()
    {
        DeactivateOnIdle();
        return Ping();
    }
}

public interface IFlakyActivationGrain : IGrainWithIntegerKey
{
    Task<long> Key();
}

/// <summary>Fails to activate while the probe's log holds fewer than two "attempt" entries.</summary>
public sealed class FlakyActivationGrain(GrainProbe probe) : Grain, IFlakyActivationGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        probe.Record("attempt");
        return probe.Events.Count(e => e == "attempt") < 2
            ? Task.FromException(new InvalidOperationException("cannot activate yet"))
            : Task.CompletedTask;
    }

    public Task<long> Key() => Task.FromResult(GetPrimaryKeyLong());
}

public interface IKeyedGrain : IGrainWithCompoundKey
{
    Task<(string Key, long Index)> Key();
}

public sealed class KeyedGrain : Grain, IKeyedGrain
{
    public Task<(string Key, long Index)> Key() => Task.FromResult(GetCompoundKey());
}

public interface ITurnGrain : IGrainWithIntegerKey
{
    Task Work(int delayMs);

    /// <summary>Enters, runs synchronous code, waits for the probe's gate.</summary>
    Task WaitAtGate();
}

public sealed class TurnGrain(GrainProbe probe) : Grain, ITurnGrain
{
    public Task Work(int delayMs) => TurnBehavior.Work(probe, delayMs);

    public Task WaitAtGate() => TurnBehavior.WaitAtGate(probe);
}

/// <summary>Same methods as <see cref="ITurnGrain"/>, not derived from it: a derived interface would make ITurnGrain ambiguous.</summary>
public interface IReentrantTurnGrain : IGrainWithIntegerKey
{
    Task Work(int delayMs);

    Task WaitAtGate();
}

[Reentrant]
public sealed class ReentrantTurnGrain(GrainProbe probe) : Grain, IReentrantTurnGrain
{
    public Task Work(int delayMs) => TurnBehavior.Work(probe, delayMs);

    public Task WaitAtGate() => TurnBehavior.WaitAtGate(probe);
}

/// <summary>The same method bodies for the reentrant and the non-reentrant grain.</summary>
internal static class TurnBehavior
{
    public static async Task Work(GrainProbe probe, int delayMs)
    {
        probe.Enter();
        try
        {
            await Task.Delay(delayMs);
            await Task.Yield();
        }
        finally
        {
            probe.Exit();
        }
    }

    public static async Task WaitAtGate(GrainProbe probe)
    {
        probe.Enter();
        probe.ExecuteSynchronously();
        await probe.Gate.Task;
        probe.ExecuteSynchronously();
        probe.Exit();
    }
}

public interface ITimerGrain : IGrainWithStringKey
{
    Task StartTimer(TimeSpan period);

    Task StopTimer();

    Task Work(int delayMs);

    Task<object?> LastTimerState();
}

public sealed class TimerGrain(GrainProbe probe) : Grain, ITimerGrain
{
    private IDisposable? timer;
    private object? lastState;

    public Task StartTimer(TimeSpan period)
    {
        timer = RegisterTimer(async state =>
        {
            probe.Enter();
            lastState = state;
            await Task.Delay(1);
            probe.OnTick();
            probe.Exit();
        }, "timer state", TimeSpan.Zero, period);
        return Task.CompletedTask;
    }

    public Task StopTimer()
    {
        timer?.Dispose();
        return Task.CompletedTask;
    }

    public async Task Work(int delayMs)
    {
        probe.Enter();
        await Task.Delay(delayMs);
        probe.Exit();
    }

    public Task<object?> LastTimerState() => Task.FromResult(lastState);
}

public interface IWorkerGrain : IGrainWithIntegerKey
{
    Task<Guid> WaitAtGate();
}

[StatelessWorker(3)]
public sealed class WorkerGrain : Grain, IWorkerGrain
{
    private readonly Guid activationId = Guid.NewGuid();
    private readonly GrainProbe probe;

    public WorkerGrain(GrainProbe probe)
    {
        this.probe = probe;
        probe.OnConstructed();
    }

    public async Task<Guid> WaitAtGate()
    {
        probe.Enter();
        await probe.Gate.Task;
        probe.Exit();
        return activationId;
    }
}

public interface ICalculatorGrain : IGrainWithIntegerKey
{
    Task<int> Add(int a, int b);

    Task<int> Fail(string message);

    Task<long> Key();
}

public sealed class CalculatorGrain : Grain, ICalculatorGrain
{
    public Task<int> Add(int a, int b) => Task.FromResult(a + b);

    public Task<int> Fail(string message) => throw new InvalidOperationException(message);

    public Task<long> Key() => Task.FromResult(GetPrimaryKeyLong());
}

public sealed class RunDivergedException(string message) : Exception(message);

public interface IErrorGrain : IGrainWithStringKey
{
    Task Throw(string message);

    Task<int> ThrowCustom(string message);

    Task Hang();

    /// <summary>Waits until its token is cancelled, records that, and rethrows.</summary>
    Task<int> WaitForCancellation(CancellationToken cancellation);
}

public sealed class ErrorGrain(GrainProbe probe) : Grain, IErrorGrain
{
    public async Task Throw(string message)
    {
        await Task.Yield();
        throw new ArgumentException(message);
    }

    public Task<int> ThrowCustom(string message) => throw new RunDivergedException(message);

    public Task Hang() => probe.Gate.Task;

    public async Task<int> WaitForCancellation(CancellationToken cancellation)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellation);
            return 0;
        }
        catch (OperationCanceledException)
        {
            probe.Record("grain saw cancellation");
            throw;
        }
    }
}

public interface IBadGrain : IGrainWithStringKey
{
    Task Fine();

    int Count();

    ValueTask<int> Later();
}

public interface IDeviceGrain : IGrainWithStringKey
{
    Task<string> Where();
}

[SiloRoleConstraint("worker", RequiresDevice = true)]
public sealed class DeviceGrain : Grain, IDeviceGrain
{
    public Task<string> Where() => Task.FromResult(GetPrimaryKeyString());
}

public interface IPreferLocalGrain : IGrainWithStringKey
{
    Task<Guid> Ping();
}

[PreferLocalPlacement]
public sealed class PreferLocalGrain : Grain, IPreferLocalGrain
{
    private readonly Guid activationId = Guid.NewGuid();

    public PreferLocalGrain(GrainProbe probe)
    {
        probe.OnConstructed();
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken) => Task.Delay(10, cancellationToken);

    public Task<Guid> Ping() => Task.FromResult(activationId);
}

public sealed record Sample(string Name, int[] Shape, double Loss);

public enum Phase
{
    Warmup = 1,
    Train = 2,
}

public interface ICodecGrain : IGrainWithStringKey
{
    Task<object?> Echo(object? value);

    Task<float[]> Scale(float[] values, float factor, CancellationToken cancellation);

    Task<Sample> Describe(Sample sample, Phase phase);

    Task<ICalculatorGrain> Calculator(ICalculatorGrain calculator);
}

public sealed class CodecGrain : Grain, ICodecGrain
{
    public Task<object?> Echo(object? value) => Task.FromResult(value);

    public Task<float[]> Scale(float[] values, float factor, CancellationToken cancellation) =>
        Task.FromResult(values.Select(v => v * factor).ToArray());

    public Task<Sample> Describe(Sample sample, Phase phase) => Task.FromResult(sample with { Name = $"{sample.Name}/{phase}" });

    public Task<ICalculatorGrain> Calculator(ICalculatorGrain calculator) => Task.FromResult(calculator);
}
