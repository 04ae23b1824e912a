using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace OrleansLm.Testing;

/// <summary>Loggers of every category into the test's output, each line prefixed with <paramref name="prefix"/> and the category.</summary>
public sealed class TestOutputLoggerProvider(ITestOutputHelper output, string prefix) : ILoggerProvider
{
    public static ILoggerFactory Factory(ITestOutputHelper output, string prefix) =>
        LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Information).AddProvider(new TestOutputLoggerProvider(output, prefix)));

    public ILogger CreateLogger(string categoryName) => new TestOutputLogger<object>(output, $"{prefix} {categoryName[(categoryName.LastIndexOf('.') + 1)..]}");

    public void Dispose()
    {
    }
}
