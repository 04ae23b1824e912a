using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using OrleansLm.Silo.Gateway;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The live page (silo/Gateway/LivePage.cs) of a real gateway silo: in headless Chromium (<see cref="HeadlessChromium"/>),
/// and its JSON endpoints called directly, each compared with what the gRPC gateway answers for the same question.
/// </summary>
public sealed class LivePageTests(LivePageTests.Session session, ITestOutputHelper output) : IClassFixture<LivePageTests.Session>
{
    private const string TinyRun = "tiny";
    private const int TinySteps = 120;
    private const int TinyEvalEvery = 40;
    private const int WindowWidth = 1280;
    private const int WindowHeight = 900;
    private const string Prompt = "to be";

    /// <summary>Prompt and generation fit the run's block of 32 characters.</summary>
    private const int GeneratedTokens = 24;

    private const int Seed = 7;
    private const double Temperature = 0.8;

    /// <summary>live.css's colours of the training loss line and the validation points.</summary>
    private static readonly (byte R, byte G, byte B) TrainingColour = (0x25, 0x63, 0xeb);
    private static readonly (byte R, byte G, byte B) ValidationColour = (0xe8, 0x59, 0x0c);

    private static readonly TimeSpan PageWait = TimeSpan.FromSeconds(60);

    /// <summary>The gateway silo with <see cref="TinyRun"/> trained to its end, evaluated every <see cref="TinyEvalEvery"/> steps.</summary>
    public sealed class Session(IMessageSink diagnostics) : GatewaySilo(diagnostics)
    {
        private Run? tiny;

        /// <summary><see cref="TinyRun"/> as GetRun reported it completed.</summary>
        public Run Tiny => tiny ?? throw new InvalidOperationException("the session has not started");

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            tiny = await TrainRunAsync(TinyRun, TinySteps, TinyEvalEvery);
        }

        /// <summary>An HTTP/1.1 client of the silo's own URL that sends <paramref name="token"/> as its bearer token.</summary>
        public HttpClient Http(string? token = null)
        {
            var http = new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
            if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return http;
        }
    }

    [Fact]
    public async Task PageShowsTheRunItsCurveAndTheSampleAClickAsksFor()
    {
        await using var browser = await HeadlessChromium.StartAsync(WindowWidth, WindowHeight);
        await OpenWithTokenAsync(browser);
        await browser.ClickAsync(await browser.FindAsync($"#runs tr[data-run='{TinyRun}']"));

        await browser.WaitAsync($"return {PointCount} === {TinySteps}", PageWait, $"the curve shows the {TinySteps} steps of {TinyRun}");
        var curve = await CurveAsync(TinyRun, from: 0);
        var losses = curve["losses"]!.AsArray().Select(l => l!.GetValue<double>()).ToList();
        losses.Should().HaveCount((int)session.Tiny.Step);
        ShouldPlot(await PointsAsync(browser, "#curve polyline.train"), losses);
        var evaluations = curve["evaluations"]!.AsArray();
        evaluations.Select(e => e!["step"]!.GetValue<long>()).Should().Equal(session.Tiny.Evaluations.Select(e => e.Step));
        (await browser.ExecuteAsync("return document.querySelectorAll('#curve circle.validation').length"))!.GetValue<int>()
            .Should().Be(TinySteps / TinyEvalEvery, "a point per evaluation");
        var row = (await browser.ExecuteAsync($"return document.querySelector(\"#runs tr[data-run='{TinyRun}']\").innerText"))!.GetValue<string>();
        row.Should().Contain("completed").And.Contain($"{TinySteps} / {TinySteps}").And.Contain("transformer");

        await browser.ClickAsync(await browser.FindAsync($"#model option[value='run:{TinyRun}']"));
        await browser.TypeAsync(await browser.FindAsync("#prompt"), Prompt);
        await browser.TypeAsync(await browser.FindAsync("#max-tokens"), Invariant(GeneratedTokens));
        await browser.TypeAsync(await browser.FindAsync("#temperature"), Invariant(Temperature));
        await browser.TypeAsync(await browser.FindAsync("#seed"), Invariant(Seed));
        await browser.ClickAsync(await browser.FindAsync("#sample"));
        await browser.WaitAsync("return ['done', 'error'].includes(document.getElementById('result').dataset.state)", PageWait, "the sample arrives");
        var info = (await browser.ExecuteAsync("return document.getElementById('sample-info').textContent"))!.GetValue<string>();
        (await browser.ExecuteAsync("return document.getElementById('result').dataset.state"))!.GetValue<string>().Should().Be("done", info);
        var completion = (await browser.ExecuteAsync("return document.getElementById('completion').textContent"))!.GetValue<string>();
        var expected = await GenerateAsync(SampleRequest());
        completion.Should().NotBeEmpty().And.Be(expected.Completions.Single().Text, "the page samples through the gateway's Generate, with the same seed");
        info.Should().StartWith($"{GeneratedTokens} tokens from run:{TinyRun}");

        var png = await browser.ScreenshotAsync();
        var path = Path.Combine(AppContext.BaseDirectory, "screenshots", "live-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, png);
        output.WriteLine($"screenshot: {path}");
        var image = PngImage.Decode(png);
        var viewport = (await browser.ExecuteAsync("return [innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]"))!
            .AsArray().Select(v => (int)v!.GetValue<double>()).ToArray();
        (image.Width, image.Height).Should().Be((viewport[0], viewport[1]), "the screenshot is the window's content");
        image.Width.Should().Be(WindowWidth, "headless Chromium's window is as wide as asked; its height includes the browser's own bars");
        var box = (await browser.ExecuteAsync("const r = document.getElementById('curve').getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]"))!
            .AsArray().Select(v => (int)v!.GetValue<double>()).ToArray();
        var colours = new HashSet<(byte, byte, byte)>();
        int training = 0, validation = 0;
        for (var y = Math.Max(0, box[1]); y < Math.Min(image.Height, box[3]); y++)
            for (var x = Math.Max(0, box[0]); x < Math.Min(image.Width, box[2]); x++)
            {
                colours.Add(image[x, y]);
                if (Near(image[x, y], TrainingColour)) training++;
                if (Near(image[x, y], ValidationColour)) validation++;
            }
        colours.Count.Should().BeGreaterThan(20, "the curve's box is drawn, not blank");
        training.Should().BeGreaterThan(200, "the training loss line shows in the screenshot");
        validation.Should().BeGreaterThan(20, "the validation points show in the screenshot");
    }

    [Fact]
    public async Task CurveGrowsWithARunningRunAndEndsWhereTheRunStopped()
    {
        const string run = "watched";
        using var grpc = session.Client();
        await grpc.UnaryAsync<Run>("/olm.v1.TrainingService/StartRun",
            new StartRunRequest { RunId = run, Config = session.RunYaml(steps: 1_000_000, evalEvery: 50) }, session.AdminToken);
        try
        {
            await using var browser = await HeadlessChromium.StartAsync(WindowWidth, WindowHeight);
            await OpenWithTokenAsync(browser);
            await browser.WaitAsync($"return document.querySelector(\"#runs tr[data-run='{run}']\") !== null", PageWait, $"the runs show {run}");
            await browser.ClickAsync(await browser.FindAsync($"#runs tr[data-run='{run}']"));
            await browser.WaitAsync($"return {PointCount} >= 20", PageWait, "the curve shows the run's first steps");
            var seen = (await browser.ExecuteAsync($"return {PointCount}"))!.GetValue<int>();
            await browser.WaitAsync($"return {PointCount} >= {seen + 50}", PageWait, "the curve grows as the run trains");

            await grpc.UnaryAsync<Run>("/olm.v1.TrainingService/StopRun", new StopRunRequest { RunId = run }, session.AdminToken);
            var stopped = new Run();
            await Eventually.HoldsAsync(async () =>
            {
                stopped = await grpc.UnaryAsync<Run>("/olm.v1.TrainingService/GetRun", new GetRunRequest { RunId = run }, session.AdminToken);
                return stopped.State == RunState.Stopped;
            }, PageWait, $"run {run} stops");
            await browser.WaitAsync($"return {PointCount} === {stopped.Step}", PageWait, $"the curve ends at the run's last step, {stopped.Step}");
            await browser.WaitAsync($"return document.querySelector(\"#runs tr[data-run='{run}']\").innerText.includes('stopped')", PageWait, "the runs show it stopped");

            var losses = (await CurveAsync(run, from: 0))["losses"]!.AsArray().Select(l => l!.GetValue<double>()).ToList();
            ShouldPlot(await PointsAsync(browser, "#curve polyline.train"), losses);
            var fetched = (await browser.ExecuteAsync(
                "return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/curve?from='))"))!.AsArray()
                .Select(n => long.Parse(n!.GetValue<string>().Split("from=")[1], CultureInfo.InvariantCulture)).ToList();
            fetched.Should().Contain(from => from >= seen, "the page asks only for the steps it lacks");
        }
        finally
        {
            // Stopped already unless the test failed before; a second stop is refused, which does not matter here.
            await grpc.CallAsync("/olm.v1.TrainingService/StopRun", RawGrpcClient.Frame(new StopRunRequest { RunId = run }), [RawGrpcClient.Bearer(session.AdminToken)]);
        }
    }

    [Theory]
    [InlineData("GET", "/api/runs")]
    [InlineData("GET", "/api/runs/tiny")]
    [InlineData("GET", "/api/runs/tiny/curve")]
    [InlineData("GET", "/api/models")]
    [InlineData("POST", "/api/sample")]
    public async Task EndpointsTakeTheSamplingOrAdminToken(string method, string path)
    {
        foreach (var (token, expected) in new[]
                 {
                     (null, HttpStatusCode.Unauthorized), ("not-a-token-of-this-gateway", HttpStatusCode.Unauthorized),
                     (session.SamplingToken, HttpStatusCode.OK), (session.AdminToken, HttpStatusCode.OK),
                 })
        {
            using var http = session.Http(token);
            using var response = await SendAsync(http, method, path, JsonFormatter.Default.Format(SampleRequest()));
            var body = await response.Content.ReadAsStringAsync();
            response.StatusCode.Should().Be(expected, body);
            response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
            if (expected == HttpStatusCode.Unauthorized)
                JsonNode.Parse(body)!["error"]!.GetValue<string>().Should().Be(token is null
                    ? "this method needs a token: send the header 'authorization: Bearer <token>'"
                    : "the token is not valid");
        }
    }

    [Fact]
    public async Task PageNeedsNoTokenAndAllowsOnlyItsOwnScriptsAndStyles()
    {
        using var http = session.Http();
        foreach (var (path, type) in new[] { ("/", "text/html"), ("/live.js", "text/javascript"), ("/live.css", "text/css") })
        {
            using var response = await http.GetAsync(path);
            response.StatusCode.Should().Be(HttpStatusCode.OK, path);
            response.Content.Headers.ContentType!.MediaType.Should().Be(type);
            response.Headers.GetValues("Content-Security-Policy").Single().Should().Be(LivePage.ContentSecurityPolicy);
            response.Headers.GetValues("X-Content-Type-Options").Single().Should().Be("nosniff");
        }
        LivePage.ContentSecurityPolicy.Should().Contain("default-src 'none'").And.Contain("script-src 'self'").And.NotContain("unsafe");
        var script = await http.GetStringAsync("/live.js");
        script.Should().NotContainAny(["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("],
            "text from the server goes into the page as text, never as markup");
    }

    [Fact]
    public async Task PageIsNotOnTheGatewaysGrpcPort()
    {
        using var h2c = new HttpClient
        {
            BaseAddress = session.Address, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        foreach (var path in new[] { "/", "/api/runs" })
        {
            using var response = await h2c.GetAsync(path);
            response.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType, "every request on the gateway's port goes to gRPC");
            (await response.Content.ReadAsStringAsync()).Should().BeEmpty();
        }
    }

    [Fact]
    public async Task RunsAndModelsAreTheGrpcMessagesAsJson()
    {
        using var http = session.Http(session.SamplingToken);
        using var grpc = session.Client();
        var run = await grpc.UnaryAsync<Run>("/olm.v1.TrainingService/GetRun", new GetRunRequest { RunId = TinyRun }, session.AdminToken);
        JsonParser.Default.Parse<Run>(await http.GetStringAsync($"/api/runs/{TinyRun}")).Should().Be(run);

        var listed = JsonParser.Default.Parse<ListRunsResponse>(await http.GetStringAsync("/api/runs")).Runs.Single(r => r.RunId == TinyRun);
        var withoutEvaluations = run.Clone();
        withoutEvaluations.Evaluations.Clear();
        listed.Should().Be(withoutEvaluations, "the listing has the coordinator's numbers, and leaves evaluations to the curve");
        listed.Loss.Should().Be(run.Loss).And.BeGreaterThan(0);

        var models = await grpc.UnaryAsync<ListModelsResponse>("/olm.v1.SamplingService/ListModels", new ListModelsRequest(), session.SamplingToken);
        JsonParser.Default.Parse<ListModelsResponse>(await http.GetStringAsync("/api/models")).Should().Be(models);
        models.Models.Select(m => m.Model).Should().Contain($"run:{TinyRun}");
    }

    [Fact]
    public async Task CurveSendsTheStepsAfterTheCallersAndEveryEvaluation()
    {
        var all = await CurveAsync(TinyRun, from: 0);
        all["step"]!.GetValue<long>().Should().Be(TinySteps);
        all["totalSteps"]!.GetValue<long>().Should().Be(TinySteps);
        var losses = all["losses"]!.AsArray().Select(l => l!.GetValue<double>()).ToList();
        losses.Should().HaveCount(TinySteps).And.OnlyContain(l => double.IsFinite(l) && l > 0);
        losses[^1].Should().Be(session.Tiny.Loss, "the run's loss is its last step's");

        var tail = await CurveAsync(TinyRun, from: 100);
        tail["from"]!.GetValue<long>().Should().Be(100);
        tail["losses"]!.AsArray().Select(l => l!.GetValue<double>()).Should().Equal(losses.Skip(100));
        (await CurveAsync(TinyRun, from: 500))["losses"]!.AsArray().Should().BeEmpty("the caller has every step already");

        foreach (var curve in new[] { all, tail })
            curve["evaluations"]!.AsArray().Select(e => (e!["step"]!.GetValue<long>(), e["validationLoss"]!.GetValue<double>()))
                .Should().Equal(session.Tiny.Evaluations.Select(e => (e.Step, e.ValidationLoss)));
        session.Tiny.Evaluations.Select(e => e.Step).Should().Equal([40L, 80L, 120L]);
    }

    [Fact]
    public async Task SampleIsWhatGenerateReturns()
    {
        var request = SampleRequest();
        request.N = 2;
        request.TopLogprobs = 2;
        request.Stop.Add("qq");
        using var http = session.Http(session.SamplingToken);
        using var response = await SendAsync(http, "POST", "/api/sample", JsonFormatter.Default.Format(request));
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.OK, body);
        var sampled = JsonParser.Default.Parse<GenerateResponse>(body);
        sampled.Should().Be(await GenerateAsync(request));
        sampled.Completions.Should().HaveCount(2).And.OnlyContain(c => c.Tokens.Count == GeneratedTokens && c.Tokens.All(t => t.TopLogprobs.Count == 2));
    }

    [Theory]
    [InlineData("\"temperature\": -1", "temperature")]
    [InlineData("\"top_p\": 1.5", "top_p")]
    [InlineData("\"top_k\": -2", "top_k")]
    [InlineData("\"max_new_tokens\": 5000", "max_new_tokens")]
    [InlineData("\"n\": 99", "n")]
    [InlineData("\"stop\": [\"\"]", "stop[0]")]
    [InlineData("\"model\": \"\"", "model")]
    [InlineData("\"model\": \"../etc/passwd\"", "model")]
    [InlineData("\"prompt\": \"\"", "prompt")]
    public async Task BadSampleParametersAre400NamingTheFieldAsGrpcDoes(string field, string name)
    {
        var json = $"{{\"model\": \"run:{TinyRun}\", \"prompt\": \"{Prompt}\", {field}}}";
        var (status, error) = await PostSampleAsync(json);
        status.Should().Be(HttpStatusCode.BadRequest, error.ToJsonString());
        error["field"]!.GetValue<string>().Should().Be(name);
        var message = error["error"]!.GetValue<string>();
        message.Should().StartWith($"{name}: ");

        using var grpc = session.Client();
        var refused = await grpc.CallAsync("/olm.v1.SamplingService/Generate", RawGrpcClient.Frame(JsonParser.Default.Parse<GenerateRequest>(json)),
            [RawGrpcClient.Bearer(session.SamplingToken)]);
        refused.Status.Should().Be(StatusCode.InvalidArgument);
        refused.Message.Should().Be(message, "the page's endpoint and the gRPC method check requests with the same code");
    }

    [Theory]
    [InlineData("GET", "/api/runs/nope", "run_id: no run nope in cluster storage")]
    [InlineData("GET", "/api/runs/nope/curve?from=3", "run_id: no run nope in cluster storage")]
    [InlineData("POST", "/api/sample", "model: no run nope in cluster storage")]
    public async Task UnknownRunsAre404(string method, string path, string message)
    {
        using var http = session.Http(session.SamplingToken);
        using var response = await SendAsync(http, method, path, $"{{\"model\": \"run:nope\", \"prompt\": \"{Prompt}\"}}");
        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>().Should().Be(message);
    }

    [Theory]
    [InlineData("{\"model\": \"run:tiny\", ", "*not a JSON GenerateRequest*")]
    [InlineData("[1, 2]", "*not a JSON GenerateRequest*")]
    [InlineData("{\"model\": \"run:tiny\", \"prompt\": \"to be\", \"temprature\": 0.5}", "*temprature*")]
    [InlineData("{\"model\": \"run:tiny\", \"prompt\": \"to be\", \"temperature\": \"hot\"}", "*not a JSON GenerateRequest*")]
    [InlineData("{\"model\": \"run:tiny\", \"prompt\": \"to be\", \"max_new_tokens\": 1.5}", "*not a JSON GenerateRequest*")]
    public async Task MalformedJsonIs400SayingWhatIsWrong(string json, string pattern)
    {
        var (status, error) = await PostSampleAsync(json);
        status.Should().Be(HttpStatusCode.BadRequest);
        error["error"]!.GetValue<string>().Should().Match(pattern);
        await ServiceStillSamplesAsync();
    }

    [Fact]
    public async Task BodiesThatAreNotJsonUtf8OrSmallEnoughAreRefused()
    {
        using var http = session.Http(session.SamplingToken);
        async Task<(HttpStatusCode, string)> PostAsync(HttpContent content)
        {
            using var response = await http.PostAsync("/api/sample", content);
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        }

        var plain = new StringContent($"{{\"model\": \"run:{TinyRun}\", \"prompt\": \"x\"}}", Encoding.UTF8, "text/plain");
        (await PostAsync(plain)).Should().Be((HttpStatusCode.UnsupportedMediaType, "the request body must be JSON (content-type application/json), not text/plain; charset=utf-8"));

        var latin1 = new ByteArrayContent([.. Encoding.ASCII.GetBytes("{\"model\": \"run:tiny\", \"prompt\": \""), 0xE9, .. "\"}"u8]);
        latin1.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        (await PostAsync(latin1)).Should().Be((HttpStatusCode.BadRequest, "the request body is not UTF-8"));

        var huge = JsonFormatter.Default.Format(new GenerateRequest { Model = $"run:{TinyRun}", Prompt = new string('a', GatewaySilo.MaxReceiveMessageBytes) });
        (await PostAsync(new StringContent(huge, Encoding.UTF8, "application/json"))).Should().Be((HttpStatusCode.RequestEntityTooLarge,
            $"the request body exceeds this gateway's limit of {GatewaySilo.MaxReceiveMessageBytes} bytes (Gateway:MaxReceiveMessageBytes)"));

        using var curve = await http.GetAsync($"/api/runs/{TinyRun}/curve?from=-3");
        curve.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        JsonNode.Parse(await curve.Content.ReadAsStringAsync())!["field"]!.GetValue<string>().Should().Be("from");
        await ServiceStillSamplesAsync();
    }

    /// <summary>Loads the page, which asks for a token (anonymous sampling is off), and gives it the sampling token.</summary>
    private async Task OpenWithTokenAsync(HeadlessChromium browser)
    {
        await browser.NavigateAsync(session.HttpAddress);
        await browser.WaitAsync("return !document.getElementById('message').hidden", PageWait, "the page says it needs a token");
        (await browser.ExecuteAsync("return document.getElementById('message').textContent"))!.GetValue<string>()
            .Should().Be("This gateway needs a token: enter its sampling or admin token above (it is kept in this tab only).");
        (await browser.ExecuteAsync("return document.querySelectorAll('#runs tbody tr').length"))!.GetValue<int>().Should().Be(0);
        await browser.TypeAsync(await browser.FindAsync("#token"), session.SamplingToken);
        await browser.ClickAsync(await browser.FindAsync("#use-token"));
        await browser.WaitAsync("return document.getElementById('message').hidden", PageWait, "the page accepts the token");
        (await browser.ExecuteAsync("return sessionStorage.getItem('olm.token')"))!.GetValue<string>().Should().Be(session.SamplingToken);
    }

    /// <summary>A script expression: how many points the training loss polyline has.</summary>
    private const string PointCount =
        "(document.querySelector('#curve polyline.train')?.getAttribute('points') ?? '').split(' ').filter(p => p.length > 0).length";

    private static async Task<List<(double X, double Y)>> PointsAsync(HeadlessChromium browser, string css)
    {
        var points = (await browser.ExecuteAsync($"return document.querySelector(\"{css}\").getAttribute('points')"))!.GetValue<string>();
        return [.. points.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(point =>
        {
            var xy = point.Split(',');
            return (double.Parse(xy[0], CultureInfo.InvariantCulture), double.Parse(xy[1], CultureInfo.InvariantCulture));
        })];
    }

    /// <summary>
    /// The polyline plots <paramref name="losses"/>: a point per step, equally spaced from left to right, its height an
    /// affine, falling function of the loss (SVG's y grows downwards), to the 0.1 px the page rounds to.
    /// </summary>
    private static void ShouldPlot(IReadOnlyList<(double X, double Y)> points, IReadOnlyList<double> losses)
    {
        points.Should().HaveCount(losses.Count);
        var dx = (points[^1].X - points[0].X) / (points.Count - 1);
        dx.Should().BePositive();
        for (var i = 0; i < points.Count; i++) points[i].X.Should().BeApproximately(points[0].X + i * dx, 0.11, $"step {i + 1}'s x");
        var lowest = Enumerable.Range(0, losses.Count).MinBy(i => losses[i]);
        var highest = Enumerable.Range(0, losses.Count).MaxBy(i => losses[i]);
        var scale = (points[highest].Y - points[lowest].Y) / (losses[highest] - losses[lowest]);
        scale.Should().BeNegative("a higher loss is drawn higher up");
        for (var i = 0; i < points.Count; i++)
            points[i].Y.Should().BeApproximately(points[lowest].Y + (losses[i] - losses[lowest]) * scale, 0.11, $"step {i + 1}'s loss {losses[i]}");
    }

    private static bool Near((byte R, byte G, byte B) pixel, (byte R, byte G, byte B) colour) =>
        Math.Abs(pixel.R - colour.R) + Math.Abs(pixel.G - colour.G) + Math.Abs(pixel.B - colour.B) < 40;

    private static GenerateRequest SampleRequest() => new()
    {
        Model = $"run:{TinyRun}", Prompt = Prompt, MaxNewTokens = GeneratedTokens, Temperature = Temperature, TopP = 1, Seed = Seed,
    };

    private async Task<GenerateResponse> GenerateAsync(GenerateRequest request)
    {
        using var grpc = session.Client();
        return await grpc.UnaryAsync<GenerateResponse>("/olm.v1.SamplingService/Generate", request, session.SamplingToken);
    }

    private async Task<JsonNode> CurveAsync(string run, long from)
    {
        using var http = session.Http(session.SamplingToken);
        return JsonNode.Parse(await http.GetStringAsync($"/api/runs/{run}/curve?from={from}"))!;
    }

    private async Task<(HttpStatusCode Status, JsonObject Error)> PostSampleAsync(string json)
    {
        using var http = session.Http(session.SamplingToken);
        using var response = await SendAsync(http, "POST", "/api/sample", json);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    /// <summary>Bad requests leave the service as it was: a good one still gets its sample.</summary>
    private async Task ServiceStillSamplesAsync()
    {
        using var http = session.Http(session.SamplingToken);
        using var response = await SendAsync(http, "POST", "/api/sample", JsonFormatter.Default.Format(SampleRequest()));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        JsonParser.Default.Parse<GenerateResponse>(await response.Content.ReadAsStringAsync()).Should().Be(await GenerateAsync(SampleRequest()));
    }

    /// <summary>GET <paramref name="path"/>, or POST it <paramref name="json"/>.</summary>
    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string method, string path, string json) => method == "GET"
        ? http.GetAsync(path)
        : http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static string Invariant(double value) => value.ToString(CultureInfo.InvariantCulture);
}
