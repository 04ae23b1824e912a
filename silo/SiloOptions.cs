using System.ComponentModel.DataAnnotations;

namespace OrleansLm.Silo;

/// <summary>The "Silo" configuration section (appsettings.json, OLM_Silo__* environment variables).</summary>
public sealed class SiloOptions
{
    public const string Section = "Silo";

    /// <summary>Name this silo reports; defaults to the host name.</summary>
    [Required(AllowEmptyStrings = false)]
    public string Name { get; set; } = Environment.MachineName;

    /// <summary>libtorch intra-op threads; 0 keeps libtorch's default.</summary>
    [Range(0, 1024)]
    public int TorchThreads { get; set; }

    /// <summary>
    /// How long a stop (SIGTERM) may take: runs hand off with a checkpoint, activations deactivate, the silo leaves the
    /// membership. Keep it below the orchestrator's grace period (Kubernetes' terminationGracePeriodSeconds), which
    /// SIGKILLs after it.
    /// </summary>
    [Range(1, 3600)]
    public int ShutdownSeconds { get; set; } = 30;
}
