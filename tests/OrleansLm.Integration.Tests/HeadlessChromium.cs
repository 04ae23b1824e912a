using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// Headless Chromium driven through chromedriver with the W3C WebDriver protocol (JSON over HTTP on loopback): Debian's
/// chromium and chromium-driver, which scripts/setup.sh installs. Enough of the protocol for the live page's tests:
/// navigate, find, click, type, run a script, take a screenshot. Disposing it ends the session and both processes.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ChromiumPath = "/usr/bin/chromium";
    public const string DriverPath = "/usr/bin/chromedriver";

    /// <summary>The key of an element reference in WebDriver's JSON (W3C WebDriver, "Elements").</summary>
    private const string ElementKey = "element-6066-11e4-a52e-4f735466cecf";

    private static readonly TimeSpan DriverWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private const int DriverAttempts = 3;

    private readonly Process driver;
    private readonly HttpClient http;
    private readonly string userData;
    private readonly string session;

    private HeadlessChromium(Process driver, HttpClient http, string userData, string session)
    {
        this.driver = driver;
        this.http = http;
        this.userData = userData;
        this.session = session;
    }

    /// <summary>Starts chromedriver on a free loopback port and a headless Chromium session with a window of the given size.</summary>
    public static async Task<HeadlessChromium> StartAsync(int width, int height)
    {
        foreach (var path in new[] { ChromiumPath, DriverPath })
            if (!File.Exists(path))
                throw new InvalidOperationException($"{path} is missing: the live page's tests need Debian's chromium and chromium-driver (run scripts/setup.sh)");
        var userData = Directory.CreateTempSubdirectory("olm-chromium-").FullName;
        var (driver, http) = await StartDriverAsync();
        try
        {
            var created = await SendAsync(http, HttpMethod.Post, "session", new JsonObject
            {
                ["capabilities"] = new JsonObject
                {
                    ["alwaysMatch"] = new JsonObject
                    {
                        ["browserName"] = "chrome",
                        ["goog:chromeOptions"] = new JsonObject
                        {
                            ["binary"] = ChromiumPath,
                            ["args"] = new JsonArray(
                                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                                "--disable-extensions", "--disable-background-networking", "--force-device-scale-factor=1",
                                $"--window-size={width},{height}", $"--user-data-dir={userData}"),
                        },
                    },
                },
            });
            return new HeadlessChromium(driver, http, userData, created!["sessionId"]!.GetValue<string>());
        }
        catch
        {
            await StopDriverAsync(driver, http, userData);
            throw;
        }
    }

    public Task NavigateAsync(Uri url) => CommandAsync(HttpMethod.Post, "/url", new JsonObject { ["url"] = url.ToString() });

    /// <summary>The element that <paramref name="css"/> selects; a WebDriver "no such element" error when there is none.</summary>
    public async Task<string> FindAsync(string css)
    {
        var found = await CommandAsync(HttpMethod.Post, "/element", new JsonObject { ["using"] = "css selector", ["value"] = css });
        return found![ElementKey]!.GetValue<string>();
    }

    public Task ClickAsync(string element) => CommandAsync(HttpMethod.Post, $"/element/{element}/click", new JsonObject());

    /// <summary>Empties an input or textarea, then types <paramref name="text"/> into it as key presses.</summary>
    public async Task TypeAsync(string element, string text)
    {
        await CommandAsync(HttpMethod.Post, $"/element/{element}/clear", new JsonObject());
        await CommandAsync(HttpMethod.Post, $"/element/{element}/value", new JsonObject { ["text"] = text });
    }

    /// <summary>Runs <paramref name="script"/> (a function body; its arguments are <c>arguments[i]</c>) in the page; returns what it returns.</summary>
    public Task<JsonNode?> ExecuteAsync(string script, params JsonNode?[] arguments) =>
        CommandAsync(HttpMethod.Post, "/execute/sync", new JsonObject { ["script"] = script, ["args"] = new JsonArray(arguments) });

    /// <summary>
    /// Runs <paramref name="script"/> every 100 ms until it returns true, up to <paramref name="timeout"/>; the timeout's
    /// message says what was awaited and what <paramref name="diagnostic"/> (a script) returned last.
    /// </summary>
    public async Task WaitAsync(string script, TimeSpan timeout, string what, string diagnostic = "return document.body.innerText")
    {
        var clock = Stopwatch.StartNew();
        while ((await ExecuteAsync(script))?.GetValue<bool>() != true)
        {
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"not within {timeout}: {what}; the page shows: {await ExecuteAsync(diagnostic)}");
            await Task.Delay(PollInterval);
        }
    }

    /// <summary>The window's content as a PNG file.</summary>
    public async Task<byte[]> ScreenshotAsync() => Convert.FromBase64String((await CommandAsync(HttpMethod.Get, "/screenshot"))!.GetValue<string>());

    public async ValueTask DisposeAsync()
    {
        try
        {
            await SendAsync(http, HttpMethod.Delete, $"session/{session}");
        }
        catch (Exception e) when (e is HttpRequestException or InvalidOperationException or TaskCanceledException)
        {
            // Chromium is gone already: killing the driver's process tree below ends whatever is left.
        }
        await StopDriverAsync(driver, http, userData);
    }

    private Task<JsonNode?> CommandAsync(HttpMethod method, string path, JsonObject? body = null) =>
        SendAsync(http, method, $"session/{session}{path}", body);

    /// <summary>One WebDriver command: its response's value, or an exception with WebDriver's error and message.</summary>
    private static async Task<JsonNode?> SendAsync(HttpClient http, HttpMethod method, string path, JsonObject? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var value = JsonNode.Parse(text)?["value"];
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"WebDriver {method} {path}: {(int)response.StatusCode} {value?["error"]}: {value?["message"] ?? text}");
        return value;
    }

    /// <summary>chromedriver on a loopback port that was free a moment ago; another try with another port if it was taken meanwhile.</summary>
    private static async Task<(Process Driver, HttpClient Http)> StartDriverAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreeLoopbackPort();
            var start = new ProcessStartInfo(DriverPath)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                ArgumentList = { $"--port={port}", "--allowed-ips=127.0.0.1" },
            };
            var driver = Process.Start(start) ?? throw new InvalidOperationException($"could not start {DriverPath}");
            var output = new StringBuilder();
            driver.OutputDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
            driver.ErrorDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
            driver.BeginOutputReadLine();
            driver.BeginErrorReadLine();
            var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = CommandTimeout };
            var clock = Stopwatch.StartNew();
            while (!driver.HasExited && clock.Elapsed < DriverWait)
            {
                try
                {
                    if ((await SendAsync(http, HttpMethod.Get, "status"))?["ready"]?.GetValue<bool>() == true) return (driver, http);
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                await Task.Delay(PollInterval);
            }
            await StopDriverAsync(driver, http, userData: null);
            if (attempt == DriverAttempts)
                throw new InvalidOperationException($"{DriverPath} did not get ready on port {port} within {DriverWait}: {output}");
        }
    }

    private static async Task StopDriverAsync(Process driver, HttpClient http, string? userData)
    {
        http.Dispose();
        if (!driver.HasExited)
        {
            driver.Kill(entireProcessTree: true);
            await driver.WaitForExitAsync();
        }
        driver.Dispose();
        if (userData is null) return;
        try
        {
            Directory.Delete(userData, recursive: true);
        }
        catch (IOException)
        {
            // A file Chromium still held: the directory is temporary anyway.
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
