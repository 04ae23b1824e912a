using System.Collections.Frozen;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Invocation;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Activation;

/// <summary>
/// A grain class registered for one grain interface, with what the runtime reads off its attributes. Instances are
/// created through DI (<see cref="ActivatorUtilities"/>), so a grain's constructor can take services.
/// </summary>
public sealed class GrainClass
{
    private readonly ObjectFactory factory;

    internal GrainClass(Type grainInterface, Type type)
    {
        Interface = GrainInterface.Of(grainInterface);
        if (!type.IsClass || type.IsAbstract || type.ContainsGenericParameters || !type.IsSubclassOf(typeof(Grain)))
            throw new ArgumentException($"{type.FullName} cannot be a grain class: it must be a concrete, non-generic class deriving from Grain");
        if (!grainInterface.IsAssignableFrom(type))
            throw new ArgumentException($"{type.FullName} does not implement {grainInterface.FullName}");
        Type = type;
        IsReentrant = type.IsDefined(typeof(ReentrantAttribute), inherit: true);
        Placement = ReadPlacement(type);
        factory = ActivatorUtilities.CreateFactory(type, Type.EmptyTypes);
    }

    public GrainInterface Interface { get; }

    public Type Type { get; }

    public bool IsReentrant { get; }

    /// <summary>From the class's placement attribute or [StatelessWorker]; <see cref="PlacementStrategy.Default"/> otherwise.</summary>
    public PlacementStrategy Placement { get; }

    public bool IsStatelessWorker => Placement is StatelessWorkerPlacement;

    /// <summary>Each activation holds one of its silo's devices.</summary>
    public bool RequiresDevice => Placement is SiloRolePlacement { RequiresDevice: true };

    internal Grain Create(IServiceProvider services) => (Grain)factory(services, null);

    public override string ToString() => $"{Type.Name} for {Interface.Name}";

    private static PlacementStrategy ReadPlacement(Type type)
    {
        var placements = type.GetCustomAttributes<PlacementAttribute>(inherit: true).ToArray();
        var worker = type.GetCustomAttribute<StatelessWorkerAttribute>(inherit: true);
        if (placements.Length + (worker is null ? 0 : 1) > 1)
            throw new ArgumentException($"{type.FullName} has more than one placement attribute ([StatelessWorker] is one)");
        if (worker is not null)
        {
            if (worker.MaxLocalWorkers < 0)
                throw new ArgumentException($"{type.FullName}: [StatelessWorker] maxLocalWorkers must be at least 1, or 0 for one per processor (got {worker.MaxLocalWorkers})");
            return new StatelessWorkerPlacement(worker.MaxLocalWorkers == 0 ? Environment.ProcessorCount : worker.MaxLocalWorkers);
        }
        return placements.Length == 1 ? placements[0].Strategy : PlacementStrategy.Default;
    }
}

/// <summary>
/// Which grain class implements each grain interface: registered explicitly, or found by scanning assemblies.
/// Explicit registrations win; an interface that scanning found several classes for fails when first called,
/// naming them. Frozen when the runtime is built.
/// </summary>
public sealed class GrainClassRegistry
{
    private readonly Dictionary<Type, GrainClass> registered = [];
    private readonly Dictionary<Type, List<GrainClass>> scanned = [];
    private FrozenDictionary<string, GrainClass[]>? byName;

    public GrainClassRegistry Add<TGrainInterface, TGrain>() where TGrainInterface : IGrain where TGrain : Grain, TGrainInterface =>
        Add(typeof(TGrainInterface), typeof(TGrain));

    public GrainClassRegistry Add(Type grainInterface, Type grainClass)
    {
        ThrowIfFrozen();
        registered[grainInterface] = new GrainClass(grainInterface, grainClass);
        return this;
    }

    /// <summary>Registers every concrete Grain subclass in <paramref name="assembly"/> for each grain interface it implements.</summary>
    public GrainClassRegistry AddAssembly(Assembly assembly)
    {
        ThrowIfFrozen();
        foreach (var type in assembly.GetTypes().Where(t => t.IsClass && !t.IsAbstract && !t.ContainsGenericParameters && t.IsSubclassOf(typeof(Grain))))
        foreach (var grainInterface in type.GetInterfaces().Where(IsApplicationGrainInterface))
        {
            if (!scanned.TryGetValue(grainInterface, out var classes)) scanned[grainInterface] = classes = [];
            if (classes.All(c => c.Type != type)) classes.Add(new GrainClass(grainInterface, type));
        }
        return this;
    }

    /// <summary>The class for the grain interface named <paramref name="interfaceName"/> (a grain id's type), or null when none is registered.</summary>
    public GrainClass? Find(string interfaceName)
    {
        var frozen = byName ?? throw new InvalidOperationException("the grain class registry is read once the runtime is built");
        if (!frozen.TryGetValue(interfaceName, out var classes)) return null;
        return classes.Length == 1
            ? classes[0]
            : throw new InvalidOperationException(
                $"grain interface {interfaceName} is implemented by {string.Join(" and ", classes.Select(c => c.Type.FullName))}; register one explicitly");
    }

    /// <summary>Like <see cref="Find"/>, but a missing class is an error.</summary>
    public GrainClass Get(string interfaceName) =>
        Find(interfaceName) ?? throw new InvalidOperationException($"no grain class implements {interfaceName}; register one (AddGrain or AddGrainsFromAssembly)");

    internal void Freeze()
    {
        if (byName is not null) return;
        var classes = scanned.ToDictionary(p => p.Key, p => p.Value.ToArray());
        foreach (var (grainInterface, grainClass) in registered) classes[grainInterface] = [grainClass];
        byName = classes.ToFrozenDictionary(p => p.Key.FullName!, p => p.Value, StringComparer.Ordinal);
    }

    private void ThrowIfFrozen()
    {
        if (byName is not null) throw new InvalidOperationException("grain classes must be registered before the runtime is built");
    }

    private static bool IsApplicationGrainInterface(Type type) =>
        typeof(IGrain).IsAssignableFrom(type) && type.Assembly != typeof(IGrain).Assembly;
}
