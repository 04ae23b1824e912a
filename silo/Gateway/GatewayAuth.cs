using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Silo.Gateway;

/// <summary>Who may call a gateway method.</summary>
public enum GatewayAccess
{
    /// <summary>Anyone: health and reflection.</summary>
    Open,

    /// <summary>The sampling or admin token, or nobody when anonymous sampling is on.</summary>
    Sampling,

    /// <summary>The admin token: training control.</summary>
    Admin,
}

/// <summary>
/// Checks bearer tokens against the configured ones. Tokens are compared as SHA-256 digests in constant time, so
/// neither their content nor their length shows in the timing; they are never logged.
/// </summary>
public sealed class GatewayAuth(IOptions<GatewayOptions> options)
{
    private readonly byte[]? admin = Digest(options.Value.AdminToken);
    private readonly byte[]? sampling = Digest(options.Value.SamplingToken);
    private readonly bool anonymousSampling = options.Value.AnonymousSampling;

    /// <summary>Throws UNAUTHENTICATED or PERMISSION_DENIED unless <paramref name="authorization"/> grants <paramref name="access"/>.</summary>
    public void Check(GatewayAccess access, string? authorization)
    {
        if (access == GatewayAccess.Open || access == GatewayAccess.Sampling && anonymousSampling) return;
        if (access == GatewayAccess.Admin && admin is null)
            throw new RpcException(StatusCode.PermissionDenied, "training control is turned off on this gateway: it has no Gateway:AdminToken");
        const string scheme = "Bearer ";
        if (string.IsNullOrEmpty(authorization))
            throw new RpcException(StatusCode.Unauthenticated, "this method needs a token: send the header 'authorization: Bearer <token>'");
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw new RpcException(StatusCode.Unauthenticated, "the authorization header must be 'Bearer <token>'");
        var presented = Digest(authorization[scheme.Length..].Trim())!;
        var isAdmin = Matches(presented, admin);
        var isSampling = Matches(presented, sampling);
        if (!isAdmin && !isSampling) throw new RpcException(StatusCode.Unauthenticated, "the token is not valid");
        if (access == GatewayAccess.Admin && !isAdmin)
            throw new RpcException(StatusCode.PermissionDenied, "training control needs the admin token; this is the sampling token");
    }

    private static bool Matches(byte[] presented, byte[]? expected) =>
        CryptographicOperations.FixedTimeEquals(presented, expected ?? new byte[SHA256.HashSizeInBytes]) && expected is not null;

    private static byte[]? Digest(string? token) => token is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
