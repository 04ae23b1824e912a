namespace OrleansLm.Testing;

/// <summary>How a tool run by <see cref="Tool"/> ended: its exit code and what it printed on standard output and error.</summary>
public sealed record ToolResult(int ExitCode, string Output, string Error);
