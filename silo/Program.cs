using Microsoft.Extensions.Options;
using OrleansLm.Model.Torch;
using OrleansLm.Protos.V1;
using OrleansLm.Silo;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Silo.Gateway;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Hosting;
using OrleansLm.Silo.Metrics;
using OrleansLm.Silo.Runs;
using OrleansLm.Silo.Serving;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddEnvironmentVariables(prefix: "OLM_");
builder.Services.AddOptions<SiloOptions>()
    .Bind(builder.Configuration.GetSection(SiloOptions.Section))
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddOptions<HostOptions>().Configure<IOptions<SiloOptions>>((host, silo) => host.ShutdownTimeout = TimeSpan.FromSeconds(silo.Value.ShutdownSeconds));
builder.Services.AddSingleton<SiloHealthProbe>();
builder.Services.AddOptions<ClusterOptions>()
    .Bind(builder.Configuration.GetSection(ClusterOptions.Section))
    .ValidateDataAnnotations()
    .ValidateOnStart();
builder.Services.AddSingleton(services => services.GetRequiredService<IOptions<ClusterOptions>>().Value.ToRunStorage());
builder.Services.AddSingleton<Action<IGrainRuntimeBuilder>>(services =>
{
    var storage = services.GetRequiredService<RunStorage>();
    return grains => SiloGrains.Register(grains, storage, services.GetRequiredService<ServedModels>());
});
builder.Services.AddSingleton<RunHandOff>();
builder.Services.AddSingleton<ClusterHost>();
builder.Services.AddHostedService(services => services.GetRequiredService<ClusterHost>());
builder.Services.AddHostedService<RunWatchdog>();
builder.AddGateway();
builder.AddMetrics();

var app = builder.Build();
app.MapGateway();
app.MapLivePage();
app.MapHealthEndpoint();
app.MapMetrics();

app.Lifetime.ApplicationStarted.Register(() =>
{
    var options = app.Services.GetRequiredService<IOptions<SiloOptions>>().Value;
    var health = app.Services.GetRequiredService<SiloHealthProbe>().Check();
    if (health.Status == SiloHealth.Types.Status.Serving && options.TorchThreads > 0)
    {
        LibTorch.NumThreads = options.TorchThreads;
        health.TorchThreads = options.TorchThreads;
    }
    app.Logger.LogInformation("Silo {Name} started: {Status}, libtorch {TorchVersion} with {Threads} threads, {Cuda} CUDA devices, listening on {Urls}",
        health.SiloName, health.Status, health.TorchVersion, health.TorchThreads, health.CudaDevices, string.Join(", ", app.Urls));
    if (health.Detail.Length > 0) app.Logger.LogError("Silo cannot do model work: {Detail}", health.Detail);
});

app.Run();

/// <summary>Entry point; public so integration tests can host the silo in-process.</summary>
public partial class Program;
