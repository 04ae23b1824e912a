using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Reflection;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// A grain interface checked for use as one: every method (its own and inherited) returns Task or Task&lt;T&gt;, is
/// not generic, passes nothing by reference and takes at most one CancellationToken. Described once per process and
/// cached; a proxy and the codec find a call's <see cref="GrainMethod"/> here.
/// </summary>
public sealed class GrainInterface
{
    private static readonly ConcurrentDictionary<Type, GrainInterface> Described = new();
    private static readonly ConcurrentDictionary<string, GrainInterface> DescribedByName = new(StringComparer.Ordinal);

    private readonly FrozenDictionary<MethodInfo, GrainMethod> byMethod;
    private readonly FrozenDictionary<string, GrainMethod> byKey;

    private GrainInterface(Type type, IReadOnlyList<GrainMethod> methods)
    {
        Type = type;
        Name = GrainId.TypeNameOf(type);
        Methods = methods;
        byMethod = methods.ToFrozenDictionary(m => m.InterfaceMethod);
        byKey = methods.ToFrozenDictionary(m => m.Key, StringComparer.Ordinal);
    }

    public Type Type { get; }

    /// <summary>The type part of its grains' ids.</summary>
    public string Name { get; }

    public IReadOnlyList<GrainMethod> Methods { get; }

    /// <summary>The description of <paramref name="type"/>; throws <see cref="ArgumentException"/> listing every method that cannot be a grain method.</summary>
    public static GrainInterface Of(Type type) => Described.GetOrAdd(type, Describe);

    /// <summary>
    /// The grain interface named <paramref name="name"/> (a grain id's type), looked up among the loaded assemblies
    /// the first time; throws <see cref="FormatException"/> when no loaded grain interface has that name.
    /// </summary>
    public static GrainInterface Find(string name) =>
        DescribedByName.TryGetValue(name, out var found) ? found : DescribedByName.GetOrAdd(name, static n => Of(
            AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(n)).FirstOrDefault(t => t is { IsInterface: true } && typeof(IGrain).IsAssignableFrom(t))
            ?? throw new FormatException($"no loaded assembly defines grain interface {n}")));

    public GrainMethod GetMethod(MethodInfo interfaceMethod) =>
        byMethod.TryGetValue(interfaceMethod, out var method)
            ? method
            : throw new ArgumentException($"{interfaceMethod.DeclaringType?.Name}.{interfaceMethod.Name} is not a method of grain interface {Name}");

    /// <summary>The method named by <see cref="GrainMethod.Key"/>, as a remote call names it.</summary>
    public GrainMethod GetMethod(string key) =>
        byKey.TryGetValue(key, out var method) ? method : throw new FormatException($"grain interface {Name} has no method {key}");

    private static GrainInterface Describe(Type type)
    {
        GrainId.TypeNameOf(type);
        // A proxy implements every inherited interface too, so a non-grain base interface's methods are checked alike.
        var methods = new[] { type }.Concat(type.GetInterfaces())
            .SelectMany(i => i.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
            .ToArray();
        var problems = methods.Select(GrainMethod.Problem).OfType<string>().ToArray();
        if (problems.Length > 0)
            throw new ArgumentException($"{type.FullName} cannot be a grain interface: {string.Join("; ", problems)}");
        return new GrainInterface(type, methods.Select(m => new GrainMethod(m)).ToArray());
    }
}
