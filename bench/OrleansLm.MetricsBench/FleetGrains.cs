using System.Reflection;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;

namespace OrleansLm.MetricsBench;

/// <summary>What the fleet's grain interfaces share: each is its own grain type, so each gets series of its own.</summary>
public interface IFleetGrain : IGrainWithIntegerKey
{
    Task Ping();
}

public abstract class FleetGrain : Grain, IFleetGrain
{
    public Task Ping() => Task.CompletedTask;
}

public interface IFleet01 : IFleetGrain;
public interface IFleet02 : IFleetGrain;
public interface IFleet03 : IFleetGrain;
public interface IFleet04 : IFleetGrain;
public interface IFleet05 : IFleetGrain;
public interface IFleet06 : IFleetGrain;
public interface IFleet07 : IFleetGrain;
public interface IFleet08 : IFleetGrain;
public interface IFleet09 : IFleetGrain;
public interface IFleet10 : IFleetGrain;
public interface IFleet11 : IFleetGrain;
public interface IFleet12 : IFleetGrain;
public interface IFleet13 : IFleetGrain;
public interface IFleet14 : IFleetGrain;
public interface IFleet15 : IFleetGrain;
public interface IFleet16 : IFleetGrain;
public interface IFleet17 : IFleetGrain;
public interface IFleet18 : IFleetGrain;
public interface IFleet19 : IFleetGrain;
public interface IFleet20 : IFleetGrain;

public sealed class Fleet01 : FleetGrain, IFleet01;
public sealed class Fleet02 : FleetGrain, IFleet02;
public sealed class Fleet03 : FleetGrain, IFleet03;
public sealed class Fleet04 : FleetGrain, IFleet04;
public sealed class Fleet05 : FleetGrain, IFleet05;
public sealed class Fleet06 : FleetGrain, IFleet06;
public sealed class Fleet07 : FleetGrain, IFleet07;
public sealed class Fleet08 : FleetGrain, IFleet08;
public sealed class Fleet09 : FleetGrain, IFleet09;
public sealed class Fleet10 : FleetGrain, IFleet10;
public sealed class Fleet11 : FleetGrain, IFleet11;
public sealed class Fleet12 : FleetGrain, IFleet12;
public sealed class Fleet13 : FleetGrain, IFleet13;
public sealed class Fleet14 : FleetGrain, IFleet14;
public sealed class Fleet15 : FleetGrain, IFleet15;
public sealed class Fleet16 : FleetGrain, IFleet16;
public sealed class Fleet17 : FleetGrain, IFleet17;
public sealed class Fleet18 : FleetGrain, IFleet18;
public sealed class Fleet19 : FleetGrain, IFleet19;
public sealed class Fleet20 : FleetGrain, IFleet20;

/// <summary>Twenty grain interfaces, as many as a larger application's, to fill the scraped registry with grain labels.</summary>
internal static class Fleet
{
    public static IReadOnlyList<Type> Interfaces { get; } =
    [
        .. typeof(IFleetGrain).Assembly.GetTypes()
            .Where(type => type.IsInterface && type != typeof(IFleetGrain) && typeof(IFleetGrain).IsAssignableFrom(type))
            .OrderBy(type => type.Name, StringComparer.Ordinal),
    ];

    /// <summary>Each interface's Ping by key, through a reference of that interface (a reference names its grain's own interface).</summary>
    public static IReadOnlyList<Func<IGrainFactory, long, Task>> Pings { get; } =
    [
        .. Interfaces.Select(grainInterface => typeof(Fleet).GetMethod(nameof(Ping), BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(grainInterface).CreateDelegate<Func<IGrainFactory, long, Task>>()),
    ];

    /// <summary>Registers every grain class of this assembly (an explicit registration, as the echo grain's, wins).</summary>
    public static void Register(IGrainRuntimeBuilder grains) => grains.AddGrainsFromAssembly(typeof(IFleetGrain).Assembly);

    private static Task Ping<TGrain>(IGrainFactory factory, long key) where TGrain : IFleetGrain => factory.GetGrain<TGrain>(key).Ping();
}
