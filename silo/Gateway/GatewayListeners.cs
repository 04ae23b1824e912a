using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace OrleansLm.Silo.Gateway;

/// <summary>
/// Binds Kestrel's endpoints: the HTTP/1.1 URLs of the silo's own pages (--urls / Urls: /healthz) and the gRPC
/// gateway's. Cleartext gRPC needs an HTTP/2-only endpoint (Kestrel negotiates HTTP/2 only through TLS's ALPN), hence
/// the separate port. Binding any endpoint explicitly makes Kestrel ignore Urls, so those are bound here too.
/// </summary>
public sealed class GatewayListeners
{
    private ListenOptions? gateway;
    private bool gatewayTls;

    /// <summary>The gateway's URL once the server has started (the bound port when configured as 0); null when it is off.</summary>
    public string? Address => gateway is null ? null
        : $"{(gatewayTls ? "https" : "http")}://{FormatEndPoint((IPEndPoint)gateway.EndPoint)}";

    /// <summary>The gateway's bound port once the server has started; -1 when it is off.</summary>
    public int Port => gateway?.EndPoint is IPEndPoint endPoint ? endPoint.Port : -1;

    /// <param name="urls">The silo's own URLs (--urls, Urls, ASPNETCORE_URLS), ';'-separated; null for http://127.0.0.1:5080.</param>
    public void Configure(KestrelServerOptions kestrel, IConfiguration configuration, string? urls)
    {
        urls = string.IsNullOrWhiteSpace(urls) ? "http://127.0.0.1:5080" : urls;
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (uri, address) = Parse(url, WebHostDefaults.ServerUrlsKey);
            if (uri.Scheme != "http") throw new InvalidOperationException($"{WebHostDefaults.ServerUrlsKey}: '{url}' must be http:// (TLS belongs on Gateway:Listen)");
            kestrel.Listen(address, uri.Port, listen => listen.Protocols = HttpProtocols.Http1);
        }

        var options = configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        if (!options.Enabled) return;
        var (gatewayUri, gatewayAddress) = Parse(options.Listen!, "Gateway:Listen");
        kestrel.Listen(gatewayAddress, gatewayUri.Port, listen =>
        {
            gateway = listen;
            gatewayTls = gatewayUri.Scheme == "https";
            if (gatewayUri.Scheme == "https")
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(LoadCertificate(options));
            }
            else listen.Protocols = HttpProtocols.Http2;
        });
    }

    private static X509Certificate2 LoadCertificate(GatewayOptions options)
    {
        try
        {
            var certificate = X509Certificate2.CreateFromPemFile(options.CertificatePath!, options.CertificateKeyPath);
            // Exported and read back so that SslStream gets a key it can use on every platform.
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"Gateway:CertificatePath '{options.CertificatePath}' (key {options.CertificateKeyPath ?? "in the same file"}): {e.Message}", e);
        }
    }

    private static (Uri Url, IPAddress Address) Parse(string url, string setting)
    {
        // Kestrel's wildcards (http://*:80, http://+:80) are not valid URIs; they mean every interface.
        var normalized = url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
        if (!Uri.TryCreate(normalized, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new InvalidOperationException($"{setting}: '{url}' is not an http(s)://HOST:PORT URL");
        var address = uri.Host switch
        {
            "localhost" => IPAddress.Loopback,
            _ when IPAddress.TryParse(uri.Host, out var ip) => ip,
            _ => throw new InvalidOperationException($"{setting}: '{url}' must name an IP address, localhost or *"),
        };
        return (uri, address);
    }

    private static string FormatEndPoint(IPEndPoint endPoint) =>
        endPoint.Address.Equals(IPAddress.Any) ? $"127.0.0.1:{endPoint.Port}" : endPoint.ToString();
}
