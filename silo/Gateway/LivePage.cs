using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using OrleansLm.Silo.Gateway.Grpc;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Silo.Gateway;

/// <summary>
/// The live page (GET /): the cluster's runs, a run's loss curve as it trains, and a box to request a sample, over JSON
/// endpoints under /api/. Browsers do not speak the gateway's h2c gRPC, so the page is on the silo's HTTP/1.1 URLs beside
/// /healthz (never on the gateway's port, where every request goes to gRPC), and only where the gateway is on.
/// <para>
/// The endpoints call the gRPC services' own methods and speak their messages in protobuf's JSON mapping, so the page
/// gets what a gRPC client gets: the same validation, batching, results and error messages. Each takes what sampling
/// takes (<see cref="GatewayAccess.Sampling"/>), run views included: they are read-only. The page itself needs no token.
/// </para>
/// </summary>
public static class LivePage
{
    /// <summary>Self only: no inline script or style, no plugins, no framing. The page builds its DOM with textContent.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>Every field, defaults included, so that the page reads absent numbers as nothing but zero.</summary>
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    /// <summary>As protobuf's JSON mapping writes them: camelCase names, NaN and infinities as strings.</summary>
    private static readonly JsonSerializerOptions CurveJson = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static WebApplication MapLivePage(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.Enabled) return app;
        MapAsset(app, "/", "index.html", "text/html; charset=utf-8");
        MapAsset(app, "/live.js", "live.js", "text/javascript; charset=utf-8");
        MapAsset(app, "/live.css", "live.css", "text/css; charset=utf-8");

        var api = app.MapGroup("/api");
        api.MapGet("/runs", http => AnswerAsync(http, async cancellation => Formatter.Format(await RunsAsync(Training(http), cancellation))));
        api.MapGet("/runs/{id}", http => AnswerAsync(http, async _ => Formatter.Format(await Training(http).GetAsync(RunId(http)))));
        api.MapGet("/runs/{id}/curve", http => AnswerAsync(http, async _ =>
        {
            var from = From(http);
            return JsonSerializer.Serialize(Curve.Of(await Training(http).StatusAsync(RunId(http)), from), CurveJson);
        }));
        api.MapGet("/models", http => AnswerAsync(http, async cancellation => Formatter.Format(await Sampling(http).ListAsync(cancellation))));
        api.MapPost("/sample", http => AnswerAsync(http, async cancellation =>
        {
            var request = await ReadAsync<GenerateRequest>(http, cancellation);
            return Formatter.Format(await Sampling(http).GenerateAsync(request, cancellation));
        }));
        return app;
    }

    /// <summary>The runs with their coordinators' latest numbers; evaluations are left to the curve.</summary>
    private static async Task<ListRunsResponse> RunsAsync(TrainingService training, CancellationToken cancellation)
    {
        var response = await training.ListWithStatusAsync(cancellation);
        foreach (var run in response.Runs) run.Evaluations.Clear();
        return response;
    }

    /// <summary>Checks the caller's token, answers with <paramref name="answer"/>'s JSON, or with an error as JSON.</summary>
    private static async Task AnswerAsync(HttpContext http, Func<CancellationToken, Task<string>> answer)
    {
        var response = http.Response;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.CacheControl = "no-store";
        string body;
        try
        {
            http.RequestServices.GetRequiredService<GatewayAuth>().Check(GatewayAccess.Sampling, http.Request.Headers.Authorization);
            body = await answer(http.RequestAborted);
        }
        catch (Exception e) when (http.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
        {
            // The caller went away: nobody is left to read an answer.
            return;
        }
        catch (Exception e)
        {
            (response.StatusCode, body) = Error(http, e);
        }
        response.ContentType = "application/json; charset=utf-8";
        await response.WriteAsync(body, http.RequestAborted);
    }

    /// <summary>
    /// The HTTP status and <c>{"error": ..., "field": ...}</c> of a failed call: gRPC's statuses as HTTP's, with the
    /// messages a gRPC client gets (<see cref="GrpcEndpoint.Classify"/>), which name the request field at fault.
    /// </summary>
    private static (int Status, string Body) Error(HttpContext http, Exception e)
    {
        var (status, detail) = e is BadHttpRequestException refused ? (refused.StatusCode, refused.Message) : HttpStatus(GrpcEndpoint.Classify(e));
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LivePage).FullName!);
        if (status >= StatusCodes.Status500InternalServerError) logger.LogError(e, "{Method} {Path} failed", http.Request.Method, http.Request.Path);
        else logger.LogDebug("{Method} {Path}: {Status} {Detail}", http.Request.Method, http.Request.Path, status, detail);
        var error = new JsonObject { ["error"] = detail };
        if (e is ArgumentException { ParamName: { Length: > 0 } field }) error["field"] = field;
        return (status, error.ToJsonString());
    }

    private static (int Status, string Detail) HttpStatus((StatusCode Status, string Detail) call) => (call.Status switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.FailedPrecondition or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    }, call.Detail);

    /// <summary>
    /// The request body as a <typeparamref name="T"/> in protobuf's JSON mapping (snake_case or camelCase names; an
    /// unknown field is an error): JSON, UTF-8, at most Gateway:MaxReceiveMessageBytes, as a gRPC message is.
    /// </summary>
    private static async Task<T> ReadAsync<T>(HttpContext http, CancellationToken cancellation) where T : IMessage, new()
    {
        var request = http.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !string.Equals(type.MediaType, "application/json", StringComparison.OrdinalIgnoreCase))
            throw new BadHttpRequestException($"the request body must be JSON (content-type application/json), not {request.ContentType ?? "(none)"}",
                StatusCodes.Status415UnsupportedMediaType);
        var limit = http.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.MaxReceiveMessageBytes;
        var tooLarge = new BadHttpRequestException($"the request body exceeds this gateway's limit of {limit} bytes (Gateway:MaxReceiveMessageBytes)",
            StatusCodes.Status413PayloadTooLarge);
        if (request.ContentLength > limit) throw tooLarge;
        using var body = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, cancellation)) > 0)
        {
            if (body.Length + read > limit) throw tooLarge;
            body.Write(buffer, 0, read);
        }
        string json;
        try
        {
            json = StrictUtf8.GetString(body.GetBuffer(), 0, (int)body.Length);
        }
        catch (DecoderFallbackException)
        {
            throw new BadHttpRequestException("the request body is not UTF-8");
        }
        try
        {
            return JsonParser.Default.Parse<T>(json);
        }
        catch (Exception e) when (e is InvalidJsonException or InvalidProtocolBufferException or FormatException)
        {
            throw new BadHttpRequestException($"the request body is not a JSON {new T().Descriptor.Name}: {e.Message}");
        }
    }

    private static TrainingService Training(HttpContext http) => http.RequestServices.GetRequiredService<TrainingService>();

    private static SamplingService Sampling(HttpContext http) => http.RequestServices.GetRequiredService<SamplingService>();

    private static string RunId(HttpContext http) => (string)http.Request.RouteValues["id"]!;

    /// <summary>The curve's from=K: how many steps' losses the caller has already.</summary>
    private static long From(HttpContext http)
    {
        var text = http.Request.Query["from"].ToString();
        if (text.Length == 0) return 0;
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var from)
            ? from
            : throw new ArgumentException($"must be the number of steps the caller has (an integer ≥ 0), not '{text}'", "from");
    }

    private static void MapAsset(WebApplication app, string path, string name, string contentType)
    {
        var content = Resource(name);
        app.MapGet(path, http =>
        {
            var response = http.Response;
            response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers["Referrer-Policy"] = "no-referrer";
            // Revalidated each time, so that a silo's new version shows at the next load.
            response.Headers.CacheControl = "no-cache";
            response.ContentType = contentType;
            response.ContentLength = content.Length;
            return response.Body.WriteAsync(content, http.RequestAborted).AsTask();
        });
    }

    /// <summary>A file of silo/Gateway/Page, embedded in the assembly (OrleansLm.Silo.csproj names them page/*).</summary>
    private static byte[] Resource(string name)
    {
        using var stream = typeof(LivePage).Assembly.GetManifestResourceStream($"page/{name}")
            ?? throw new InvalidOperationException($"the silo assembly lacks its embedded page/{name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// GET /api/runs/{id}/curve?from=K: the training losses of steps K+1 on (<see cref="Losses"/>[i] is step K+1+i's), and
    /// every evaluation.
    /// </summary>
    /// <param name="Step">Steps the run has done. A caller that holds more (the run went back to a checkpoint) asks again from 0.</param>
    private sealed record Curve(string RunId, long Step, long TotalSteps, long From, IReadOnlyList<double> Losses, IReadOnlyList<CurvePoint> Evaluations)
    {
        public static Curve Of(RunStatus status, long from) => new(status.RunId, status.Step, status.TotalSteps, from,
            [.. status.Losses.Skip((int)Math.Min(from, status.Losses.Count))], [.. status.Evaluations.Select(e => new CurvePoint(e.Step, e.Loss))]);
    }

    private sealed record CurvePoint(long Step, double ValidationLoss);
}
