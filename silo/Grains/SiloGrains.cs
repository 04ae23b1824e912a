using OrleansLm.Model.Torch;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Silo.Runs;
using OrleansLm.Silo.Serving;

namespace OrleansLm.Silo.Grains;

/// <summary>The training cluster's grains and the services they share, as a silo registers them.</summary>
public static class SiloGrains
{
    /// <summary>The role of silos that run workers (each holding one of the silo's devices).</summary>
    public const string WorkerRole = "worker";

    /// <summary>The grains with run state in memory and checkpoints in a temporary directory (<see cref="RunStorage.InProcess"/>).</summary>
    public static void Register(IGrainRuntimeBuilder grains) => Register(grains, RunStorage.InProcess());

    /// <param name="models">
    /// The silo's served models, shared with its gateway; null for the silo's own with default batching (a silo without
    /// a gateway, tests).
    /// </param>
    public static void Register(IGrainRuntimeBuilder grains, RunStorage storage, ServedModels? models = null)
    {
        grains.Services.AddSingleton<RunData>();
        grains.Services.AddSingleton(_ => new GpuLeases(LibTorch.CudaDeviceCount));
        grains.Services.AddSingleton(storage);
        if (models is null) grains.Services.AddSingleton(_ => new ServedModels(new ServingOptions()));
        else grains.Services.AddSingleton(models);
        grains.Grains
            .Add<ITrainingRunGrain, TrainingRunGrain>()
            .Add<IWorkerGrain, WorkerGrain>()
            .Add<IParameterServerGrain, ParameterServerGrain>()
            .Add<IDataShardGrain, DataShardGrain>()
            .Add<ISamplerGrain, SamplerGrain>();
    }
}
