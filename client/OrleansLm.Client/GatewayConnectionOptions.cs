using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Client;

/// <summary>How a <see cref="GatewayConnection"/> reaches the gateway and what it accepts from it.</summary>
public sealed record GatewayConnectionOptions
{
    /// <summary>The gateway's base URL: http:// speaks HTTP/2 without TLS (prior knowledge), https:// negotiates h2 by ALPN.</summary>
    public required Uri Address { get; init; }

    /// <summary>Sent as <c>authorization: Bearer</c> on every call when set.</summary>
    public string? Token { get; init; }

    /// <summary>Gzip-compresses request messages (grpc-encoding: gzip).</summary>
    public bool CompressRequests { get; init; }

    /// <summary>A response message larger than this, compressed or not, fails the call with RESOURCE_EXHAUSTED.</summary>
    public int MaxReceiveMessageBytes { get; init; } = MessageFraming.DefaultMaxMessageBytes;

    /// <summary>
    /// Certificate authorities to trust for https:// besides the system's, e.g. a cluster's own CA; the server's
    /// certificate must still name the host.
    /// </summary>
    public X509Certificate2Collection? TrustedAuthorities { get; init; }

    /// <summary>Decides on the server's certificate instead of the system's checks and <see cref="TrustedAuthorities"/>.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }
}
