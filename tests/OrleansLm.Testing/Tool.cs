using System.Diagnostics;

namespace OrleansLm.Testing;

/// <summary>Runs a command-line tool the tests need (initdb, pg_ctl, ip, promtool, ...) to completion.</summary>
public static class Tool
{
    /// <summary>
    /// Runs <paramref name="fileName"/> and returns its standard output; a non-zero exit throws
    /// <see cref="InvalidOperationException"/> with what it printed.
    /// </summary>
    public static async Task<string> RunAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellation = default)
    {
        var result = await ExecuteAsync(fileName, arguments, input: null, cancellation);
        if (result.ExitCode != 0)
            throw new InvalidOperationException(
                $"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited with {result.ExitCode}: {result.Error}{result.Output}");
        return result.Output;
    }

    /// <summary>Runs <paramref name="fileName"/> with <paramref name="input"/> on its standard input; whatever its exit code, returns what it did.</summary>
    public static Task<ToolResult> RunWithInputAsync(string fileName, IReadOnlyList<string> arguments, string input, CancellationToken cancellation = default) =>
        ExecuteAsync(fileName, arguments, input, cancellation);

    private static async Task<ToolResult> ExecuteAsync(string fileName, IReadOnlyList<string> arguments, string? input, CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
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
