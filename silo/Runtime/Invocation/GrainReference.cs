using System.Reflection;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// The proxy behind every grain reference: <see cref="DispatchProxy"/> generates a subclass implementing the grain
/// interface, whose methods all land in <see cref="Invoke"/>, which turns them into grain calls. (The proxy must be
/// public, unsealed and default-constructible for DispatchProxy; the runtime sets its fields right after creating it.)
/// Two references are equal when they name the same grain.
/// </summary>
public class GrainReference : DispatchProxy
{
    private GrainInterface? grainInterface;
    private OutgoingCalls? calls;

    public GrainId GrainId { get; private set; }

    public Type InterfaceType => Interface.Type;

    private GrainInterface Interface => grainInterface ?? throw new InvalidOperationException("grain references are made by an IGrainFactory");

    internal static object Create(GrainInterface grainInterface, GrainId grainId, OutgoingCalls calls)
    {
        var proxy = (GrainReference)Create(grainInterface.Type, typeof(GrainReference));
        proxy.grainInterface = grainInterface;
        proxy.GrainId = grainId;
        proxy.calls = calls;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        calls!.Invoke(GrainId, Interface.GetMethod(targetMethod!), args ?? []);

    public override bool Equals(object? obj) => obj is GrainReference other && other.GrainId == GrainId;

    public override int GetHashCode() => GrainId.GetHashCode();

    public override string ToString() => $"GrainReference({GrainId})";
}
