using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansLm.Runtime.Activation;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Hosting;

/// <summary>Registers grain classes on the runtime being configured.</summary>
public interface IGrainRuntimeBuilder
{
    IServiceCollection Services { get; }

    GrainClassRegistry Grains { get; }
}

public static class GrainRuntimeServiceCollectionExtensions
{
    /// <summary>
    /// Adds a silo's grain runtime: <see cref="SiloRuntime"/> and <see cref="IGrainFactory"/> as singletons. Register
    /// grain classes on the returned builder, call filters as <see cref="IIncomingGrainCallFilter"/> /
    /// <see cref="IOutgoingGrainCallFilter"/> services (they run in registration order), and cluster seams as their
    /// interfaces. The runtime is not a hosted service by itself; a host adds it or starts it.
    /// </summary>
    public static IGrainRuntimeBuilder AddGrainRuntime(this IServiceCollection services, Action<GrainRuntimeOptions>? configure = null)
    {
        var options = services.AddOptions<GrainRuntimeOptions>();
        if (configure is not null) options.Configure(configure);
        var registry = services.FirstOrDefault(d => d.ServiceType == typeof(GrainClassRegistry))?.ImplementationInstance as GrainClassRegistry;
        if (registry is null)
        {
            registry = new GrainClassRegistry();
            services.AddSingleton(registry);
        }
        services.TryAddSingleton<SiloRuntime>();
        services.TryAddSingleton(sp => sp.GetRequiredService<SiloRuntime>().GrainFactory);
        return new Builder(services, registry);
    }

    public static IGrainRuntimeBuilder AddGrain<TGrainInterface, TGrain>(this IGrainRuntimeBuilder builder)
        where TGrainInterface : IGrain where TGrain : Grain, TGrainInterface
    {
        builder.Grains.Add<TGrainInterface, TGrain>();
        return builder;
    }

    public static IGrainRuntimeBuilder AddGrainsFromAssembly(this IGrainRuntimeBuilder builder, Assembly assembly)
    {
        builder.Grains.AddAssembly(assembly);
        return builder;
    }

    private sealed record Builder(IServiceCollection Services, GrainClassRegistry Grains) : IGrainRuntimeBuilder;
}
