using Microsoft.Extensions.Options;
using OrleansLm.Protos.Grpc;
using OrleansLm.Silo.Gateway.Grpc;
using OrleansLm.Silo.Hosting;
using OrleansLm.Silo.Runs;
using OrleansLm.Silo.Serving;

namespace OrleansLm.Silo.Gateway;

/// <summary>Adds the gRPC gateway to the silo application: its Kestrel endpoint, services and dispatcher.</summary>
public static class GatewayHosting
{
    /// <summary>Printed on standard output, followed by the gateway's URL, once the host has started (when the gateway is on).</summary>
    public const string GatewayLine = "GATEWAY ";

    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        var listeners = new GatewayListeners();
        builder.Services.AddSingleton(listeners);
        // Kestrel logs that it overrides the URLs: it does, and binds them itself (GatewayListeners).
        builder.WebHost.ConfigureKestrel((context, kestrel) => listeners.Configure(kestrel, context.Configuration, context.Configuration[WebHostDefaults.ServerUrlsKey]));
        builder.Services.AddOptions<GatewayOptions>()
            .Bind(builder.Configuration.GetSection(GatewayOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
            return new ServedModels(new ServingOptions(
                options.MaxBatchRows, TimeSpan.FromMilliseconds(options.BatchWaitMilliseconds), TimeSpan.FromSeconds(options.RunModelRefreshSeconds)));
        });
        builder.Services.AddSingleton<GatewayAuth>();
        // The gRPC methods and the live page (LivePage) share these.
        builder.Services.AddSingleton(services => new TrainingService(
            services.GetRequiredService<ClusterHost>().Silo.GrainFactory, services.GetRequiredService<RunStorage>(), services.GetRequiredService<IOptions<GatewayOptions>>()));
        builder.Services.AddSingleton(services => new SamplingService(
            services.GetRequiredService<ClusterHost>().Silo.GrainFactory, services.GetRequiredService<RunStorage>(), services.GetRequiredService<ServedModels>(),
            services.GetRequiredService<IOptions<GatewayOptions>>()));
        builder.Services.AddSingleton(services =>
        {
            var methods = new GrpcMethods();
            new HealthService(services.GetRequiredService<SiloHealthProbe>(), services.GetRequiredService<IHostApplicationLifetime>()).Register(methods);
            ReflectionService.Register(methods);
            services.GetRequiredService<TrainingService>().Register(methods);
            services.GetRequiredService<SamplingService>().Register(methods);
            return methods;
        });
        builder.Services.AddSingleton<GrpcEndpoint>();
        return builder;
    }

    /// <summary>
    /// Sends every request that reaches the gateway's port, and any gRPC request on the others, to the
    /// <see cref="GrpcEndpoint"/>; prints <see cref="GatewayLine"/> once started.
    /// </summary>
    public static WebApplication MapGateway(this WebApplication app)
    {
        var listeners = app.Services.GetRequiredService<GatewayListeners>();
        app.Use(async (http, next) =>
        {
            if (http.Connection.LocalPort == listeners.Port || GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
                await http.RequestServices.GetRequiredService<GrpcEndpoint>().HandleAsync(http);
            else await next(http);
        });
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            if (listeners.Address is not { } address) return;
            app.Logger.LogInformation("gRPC gateway listening on {Address}", address);
            Console.Out.WriteLine(GatewayLine + address);
        });
        return app;
    }
}
