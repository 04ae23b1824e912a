using System.Net;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// A minimal gRPC peer for testing the client before (and apart from) the real gateway: Kestrel on a free loopback
/// port speaking HTTP/2 only (h2c, or h2 over TLS given a certificate), each method a plain endpoint that frames its
/// answer and sets its trailers by hand.
/// </summary>
internal sealed class FakeGateway : IAsyncDisposable
{
    private readonly WebApplication app;

    private FakeGateway(WebApplication app, Uri address)
    {
        this.app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<FakeGateway> StartAsync(Action<WebApplication> mapEndpoints, X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            if (certificate is not null) listen.UseHttps(certificate);
        }));
        var app = builder.Build();
        mapEndpoints(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new FakeGateway(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>Reads the call's single request message.</summary>
    public static async Task<T> ReadRequestAsync<T>(HttpContext context, MessageParser<T> parser) where T : IMessage<T>
    {
        var encoding = context.Request.Headers[GrpcProtocol.EncodingHeader].FirstOrDefault();
        var payload = await MessageFraming.ReadMessageAsync(context.Request.Body, MessageFraming.DefaultMaxMessageBytes, encoding, context.RequestAborted)
                      ?? throw new InvalidOperationException("the request carried no message");
        return parser.ParseFrom(payload);
    }

    /// <summary>Sends the response headers of a call that answers with messages.</summary>
    public static Task BeginAsync(HttpContext context, string? encoding = null)
    {
        context.Response.ContentType = GrpcProtocol.ContentType;
        if (encoding is not null) context.Response.Headers[GrpcProtocol.EncodingHeader] = encoding;
        return context.Response.StartAsync(context.RequestAborted);
    }

    /// <summary>Writes one message and flushes it, so that the client can see it before the call ends.</summary>
    public static async Task SendAsync(HttpContext context, IMessage message)
    {
        await MessageFraming.WriteMessageAsync(context.Response.Body, message, compress: false, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>Ends the call with its status as trailers; <paramref name="encodedDetail"/> is sent as it is.</summary>
    public static void End(HttpContext context, StatusCode status, string encodedDetail = "")
    {
        context.Response.AppendTrailer(GrpcProtocol.StatusHeader, ((int)status).ToString());
        if (encodedDetail.Length > 0) context.Response.AppendTrailer(GrpcProtocol.MessageHeader, encodedDetail);
    }

    /// <summary>Answers with headers only: HTTP 200, the gRPC content type and the status.</summary>
    public static void EndTrailersOnly(HttpContext context, StatusCode status, string encodedDetail)
    {
        context.Response.ContentType = GrpcProtocol.ContentType;
        context.Response.Headers[GrpcProtocol.StatusHeader] = ((int)status).ToString();
        context.Response.Headers[GrpcProtocol.MessageHeader] = encodedDetail;
    }
}
