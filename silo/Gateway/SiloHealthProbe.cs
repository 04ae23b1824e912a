using System.Reflection;
using Microsoft.Extensions.Options;
using OrleansLm.Model.Torch;
using OrleansLm.Protos.V1;

namespace OrleansLm.Silo.Gateway;

/// <summary>Reports whether this silo can do model work: it is serving only if libtorch loads and answers.</summary>
public sealed class SiloHealthProbe(IOptions<SiloOptions> options)
{
    private static readonly string Version =
        typeof(SiloHealthProbe).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public SiloHealth Check()
    {
        var health = new SiloHealth { SiloName = options.Value.Name, Version = Version };
        try
        {
            health.TorchVersion = LibTorch.Version;
            health.TorchThreads = LibTorch.NumThreads;
            health.CudaDevices = LibTorch.CudaDeviceCount;
            health.Status = SiloHealth.Types.Status.Serving;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            health.Status = SiloHealth.Types.Status.NotServing;
            health.Detail = $"libtorch shim failed to load: {e.Message}";
        }
        return health;
    }
}
