using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Security.Cryptography;
using OrleansLm.Model.Torch;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Runs;

namespace OrleansLm.Silo.Hosting;

/// <summary>
/// The "Cluster" configuration section (appsettings.json, OLM_Cluster__* environment variables): how this silo joins
/// its cluster. Without <see cref="Postgres"/> the silo is a cluster of one (in-memory membership).
/// </summary>
public sealed class ClusterOptions : IValidatableObject
{
    public const string Section = "Cluster";

    [Required(AllowEmptyStrings = false)]
    public string ClusterId { get; set; } = "olm";

    /// <summary>Shared by the cluster's silos; required with <see cref="Postgres"/>. A cluster of one makes up its own.</summary>
    public string? Secret { get; set; }

    /// <summary>The silo port, IP:PORT (0.0.0.0 needs <see cref="AdvertisedHost"/>).</summary>
    [Required(AllowEmptyStrings = false)]
    public string Listen { get; set; } = "127.0.0.1:11111";

    /// <summary>The IP other silos dial, e.g. the pod IP.</summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>Connection string of the PostgreSQL membership table; empty for a single-silo cluster.</summary>
    public string? Postgres { get; set; }

    /// <summary>
    /// This silo's roles; none configured means [worker]. Null rather than that default: the configuration binder
    /// appends configured elements to an array it finds filled, so Roles:0=gateway would give [worker, gateway].
    /// </summary>
    public string[]? Roles { get; set; }

    /// <summary>
    /// Devices this silo offers to workers: each worker grain holds one (a GPU, when the silo has them). Unset, the
    /// silo's GPU count, or 1 (the CPU) without GPUs.
    /// </summary>
    [Range(0, 1024)]
    public int? Devices { get; set; }

    /// <summary>
    /// Where runs keep their checkpoints unless they name a directory (each run in a subdirectory named by its id); a
    /// volume every silo mounts at the same path. Relative paths are taken from the silo's working directory.
    /// </summary>
    [Required(AllowEmptyStrings = false)]
    public string CheckpointRoot { get; set; } = "checkpoints";

    /// <summary>Where the cluster keeps its runs' state: the membership database when there is one, else this silo's memory.</summary>
    public RunStorage ToRunStorage() => new(
        string.IsNullOrWhiteSpace(Postgres) ? new InMemoryRunStore() : new PostgresRunStore(Postgres, ClusterId),
        Path.GetFullPath(CheckpointRoot));

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPEndPoint.TryParse(Listen, out var endPoint))
            yield return new ValidationResult($"Cluster:Listen '{Listen}' is not IP:PORT", [nameof(Listen)]);
        else if (endPoint.Address.Equals(IPAddress.Any) && string.IsNullOrWhiteSpace(AdvertisedHost))
            yield return new ValidationResult("Cluster:AdvertisedHost is required when Cluster:Listen is a wildcard address", [nameof(AdvertisedHost)]);
        if (!string.IsNullOrWhiteSpace(Postgres) && string.IsNullOrEmpty(Secret))
            yield return new ValidationResult("Cluster:Secret is required when silos share a PostgreSQL membership table", [nameof(Secret)]);
        if (Roles is not null && Roles.Any(string.IsNullOrWhiteSpace))
            yield return new ValidationResult("Cluster:Roles contains an empty role", [nameof(Roles)]);
    }

    public ClusterSiloOptions ToSiloOptions() => new()
    {
        ClusterId = ClusterId,
        ClusterSecret = string.IsNullOrEmpty(Secret) ? Convert.ToHexString(RandomNumberGenerator.GetBytes(32)) : Secret,
        EndPoint = IPEndPoint.Parse(Listen),
        AdvertisedHost = AdvertisedHost,
        PostgresConnectionString = string.IsNullOrWhiteSpace(Postgres) ? null : Postgres,
        Roles = Roles ?? [SiloGrains.WorkerRole],
        Devices = Devices ?? Math.Max(1, LibTorch.CudaDeviceCount),
    };
}
