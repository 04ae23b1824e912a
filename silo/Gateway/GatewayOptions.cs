using System.ComponentModel.DataAnnotations;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Silo.Gateway;

/// <summary>
/// The "Gateway" configuration section (appsettings.json, OLM_Gateway__* environment variables, e.g. from a Kubernetes
/// secret): where the gRPC gateway listens, who may call it, and the limits it enforces.
/// </summary>
public sealed class GatewayOptions : IValidatableObject
{
    public const string Section = "Gateway";

    /// <summary>
    /// The gateway's URL: http:// for HTTP/2 cleartext (prior knowledge, what gRPC clients speak without TLS), https:// for
    /// TLS with <see cref="CertificatePath"/>. Empty turns the gateway off on this silo.
    /// </summary>
    public string? Listen { get; set; } = "http://127.0.0.1:5081";

    /// <summary>PEM certificate (chain) for an https:// <see cref="Listen"/>.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key of <see cref="CertificatePath"/>; null when the certificate file holds it.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Bearer token for training control (and sampling). Without one, training control is refused.</summary>
    public string? AdminToken { get; set; }

    /// <summary>Bearer token for sampling and scoring.</summary>
    public string? SamplingToken { get; set; }

    /// <summary>Lets sampling and scoring calls without a token through.</summary>
    public bool AnonymousSampling { get; set; }

    /// <summary>The largest request message accepted (after decompression); bigger ones are RESOURCE_EXHAUSTED.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxReceiveMessageBytes { get; set; } = MessageFraming.DefaultMaxMessageBytes;

    /// <summary>The most tokens one generation may ask for; max_new_tokens above it is refused.</summary>
    [Range(1, 1_000_000)]
    public int MaxNewTokens { get; set; } = 1024;

    /// <summary>max_new_tokens when a request leaves it 0.</summary>
    [Range(1, 1_000_000)]
    public int DefaultMaxNewTokens { get; set; } = 128;

    /// <summary>The most samples (n) or beams one request may ask for.</summary>
    [Range(1, 1024)]
    public int MaxSamples { get; set; } = 16;

    /// <summary>Where ExportModel writes models and whence SamplingService loads them by name; relative to the working directory.</summary>
    [Required(AllowEmptyStrings = false)]
    public string ModelDirectory { get; set; } = "models";

    /// <summary>Rows (samples of concurrent requests) decoded together in one batch.</summary>
    [Range(1, 4096)]
    public int MaxBatchRows { get; set; } = 32;

    /// <summary>How long the first request of a batch waits for others to join it.</summary>
    [Range(0, 1000)]
    public double BatchWaitMilliseconds { get; set; } = 2;

    /// <summary>How stale a training run's served parameters may get: at most this often they are exported again.</summary>
    [Range(0, 86400)]
    public double RunModelRefreshSeconds { get; set; } = 10;

    public bool Enabled => !string.IsNullOrWhiteSpace(Listen);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Enabled) yield break;
        if (!Uri.TryCreate(Listen, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            yield return new ValidationResult($"Gateway:Listen '{Listen}' is not an http:// or https:// URL", [nameof(Listen)]);
        else if (url.Scheme == "https" && string.IsNullOrWhiteSpace(CertificatePath))
            yield return new ValidationResult("Gateway:CertificatePath is required for an https:// Gateway:Listen", [nameof(CertificatePath)]);
        if (AdminToken is { Length: < 16 })
            yield return new ValidationResult("Gateway:AdminToken must be at least 16 characters", [nameof(AdminToken)]);
        if (SamplingToken is { Length: < 16 })
            yield return new ValidationResult("Gateway:SamplingToken must be at least 16 characters", [nameof(SamplingToken)]);
        if (AdminToken is not null && AdminToken == SamplingToken)
            yield return new ValidationResult("Gateway:SamplingToken must differ from Gateway:AdminToken", [nameof(SamplingToken)]);
        if (DefaultMaxNewTokens > MaxNewTokens)
            yield return new ValidationResult($"Gateway:DefaultMaxNewTokens {DefaultMaxNewTokens} exceeds Gateway:MaxNewTokens {MaxNewTokens}", [nameof(DefaultMaxNewTokens)]);
    }
}
