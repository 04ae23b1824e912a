using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace OrleansLm.Testing;

/// <summary>
/// Sends log lines to the test's output, prefixed with milliseconds since the logger was made and a name; with
/// <paramref name="lines"/>, keeps them there too.
/// </summary>
public sealed class TestOutputLogger<T>(ITestOutputHelper output, string name, ConcurrentQueue<string>? lines = null) : ILogger<T>
{
    private readonly Stopwatch sinceStart = Stopwatch.StartNew();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{sinceStart.ElapsedMilliseconds,6} ms {name} {logLevel}: {formatter(state, exception)}"
            + (exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})");
        lines?.Enqueue(line);
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test has finished: xUnit no longer takes its output.
        }
    }
}
