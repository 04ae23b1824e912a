namespace OrleansLm.Testing.Processes;

/// <summary>
/// How to start one silo process and read it: the command line and environment, and the lines it prints on standard
/// output: <paramref name="ReadyPrefix"/> followed by its silo address once it has joined its cluster, and
/// <see cref="DeclaredDeadLine"/> when the cluster declared it dead. The process must leave gracefully on SIGTERM.
/// </summary>
public sealed record SiloLaunch(string FileName, IReadOnlyList<string> Arguments, string ReadyPrefix)
{
    /// <summary>Set on top of the test process's own environment.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>The line the program prints once the cluster declared it dead; null for a program that prints none.</summary>
    public string? DeclaredDeadLine { get; init; }

    public string? WorkingDirectory { get; init; }

    /// <summary>
    /// A .NET program built into the test's output directory (a project the test project references), run by the
    /// dotnet host that runs the tests, in that directory (where an ASP.NET program finds its appsettings.json).
    /// </summary>
    public static SiloLaunch DotnetProgram(string dllName, IReadOnlyList<string> arguments, string readyPrefix)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, dllName);
        if (!File.Exists(dll))
            throw new FileNotFoundException(
                $"{dllName} is not beside the tests in {AppContext.BaseDirectory}: reference its project from the test project", dll);
        var dotnet = System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        return new SiloLaunch(dotnet, [dll, .. arguments], readyPrefix) { WorkingDirectory = AppContext.BaseDirectory };
    }

    /// <summary>The same program inside a network namespace (<c>ip netns exec</c>, which keeps the process id).</summary>
    public SiloLaunch InNetworkNamespace(string networkNamespace) =>
        this with { FileName = "ip", Arguments = ["netns", "exec", networkNamespace, FileName, .. Arguments] };
}
