using System.Diagnostics;

namespace OrleansLm.Testing;

/// <summary>Runs a command-line tool the tests need (initdb, pg_ctl, ip, promtool, docker-compose, ...) to completion.</summary>
public static class Tool
{
    /// <summary>
    /// Runs <paramref name="fileName"/> and returns its standard output; a non-zero exit throws
    /// <see cref="InvalidOperationException"/> with what it printed.
    /// </summary>
    public static async Task<string> RunAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellation = default) =>
        Succeeded(fileName, arguments, await ExecuteAsync(fileName, arguments, input: null, environment: null, workingDirectory: null, cancellation));

    /// <summary>
    /// <see cref="RunAsync(string, IReadOnlyList{string}, CancellationToken)"/> with <paramref name="environment"/>'s
    /// variables set (a value) or removed (null) from what it inherits, in <paramref name="workingDirectory"/>.
    /// </summary>
    public static async Task<string> RunAsync(string fileName, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?> environment,
        string? workingDirectory = null, CancellationToken cancellation = default) =>
        Succeeded(fileName, arguments, await ExecuteAsync(fileName, arguments, input: null, environment, workingDirectory, cancellation));

    /// <summary>Runs <paramref name="fileName"/> with <paramref name="input"/> on its standard input; whatever its exit code, returns what it did.</summary>
    public static Task<ToolResult> RunWithInputAsync(string fileName, IReadOnlyList<string> arguments, string input, CancellationToken cancellation = default) =>
        ExecuteAsync(fileName, arguments, input, environment: null, workingDirectory: null, cancellation);

    /// <summary>Runs <paramref name="fileName"/>; whatever its exit code, returns what it did.</summary>
    public static Task<ToolResult> ResultOfAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellation = default) =>
        ExecuteAsync(fileName, arguments, input: null, environment: null, workingDirectory: null, cancellation);

    private static string Succeeded(string fileName, IReadOnlyList<string> arguments, ToolResult result) =>
        result.ExitCode == 0
            ? result.Output
            : throw new InvalidOperationException(
                $"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited with {result.ExitCode}: {result.Error}{result.Output}");

    private static async Task<ToolResult> ExecuteAsync(string fileName, IReadOnlyList<string> arguments, string? input,
        IReadOnlyDictionary<string, string?>? environment, string? workingDirectory, CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var output = process.StandardOutput.ReadToEndAsync(cancellation);
        var error = process.StandardError.ReadToEndAsync(cancellation);
        try
        {
            if (input is not null)
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), cancellation);
                process.StandardInput.Close();
            }
            await process.WaitForExitAsync(cancellation);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return new ToolResult(process.ExitCode, await output, await error);
    }
}
