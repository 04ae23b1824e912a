using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace OrleansLm.Testing;

/// <summary>
/// Loggers of every category into the test's output, each line prefixed with <paramref name="prefix"/> and the
/// category; it keeps the lines too, for tests that look for what was logged.
/// </summary>
public sealed class TestOutputLoggerProvider(ITestOutputHelper output, string prefix) : ILoggerProvider
{
    private readonly ConcurrentQueue<string> lines = new();

    public static ILoggerFactory Factory(ITestOutputHelper output, string prefix) => new TestOutputLoggerProvider(output, prefix).CreateFactory();

    /// <summary>Every line its loggers have written so far.</summary>
    public IReadOnlyCollection<string> Lines => lines;

    /// <summary>A factory of this provider's loggers, from Information up.</summary>
    public ILoggerFactory CreateFactory() => LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Information).AddProvider(this));

    public ILogger CreateLogger(string categoryName) =>
        new TestOutputLogger<object>(output, $"{prefix} {categoryName[(categoryName.LastIndexOf('.') + 1)..]}", lines);

    public void Dispose()
    {
    }
}
