using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.TestSilo;

// A silo process for tests: joins the cluster, prints READY <address>, serves until SIGTERM (a graceful leave, exit 0)
// or until the cluster declares it dead (DECLARED-DEAD, exit 3). Logs go to stderr.
const string usage = "usage: OrleansLm.Runtime.TestSilo --cluster ID --secret S --postgres CONNECTION --listen IP:PORT";

var arguments = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i < args.Length; i += 2)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
        return Fail($"argument '{args[i]}' is not an option followed by its value");
    arguments[args[i][2..]] = args[i + 1];
}
string Required(string name) => arguments.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is missing");

ClusterSiloOptions options;
try
{
    options = TestSiloHost.Options(Required("cluster"), Required("secret"), Required("postgres"),
        IPEndPoint.TryParse(Required("listen"), out var endPoint) ? endPoint : throw new ArgumentException($"--listen '{arguments["listen"]}' is not IP:PORT"),
        [TestSiloHost.WorkerRole]);
    var unknown = arguments.Keys.Except(["cluster", "secret", "postgres", "listen"]).ToList();
    if (unknown.Count > 0) throw new ArgumentException($"unknown option --{unknown[0]}");
}
catch (ArgumentException e)
{
    return Fail(e.Message);
}

using var loggers = LoggerFactory.Create(logging => logging
    .AddSimpleConsole(console => { console.SingleLine = true; console.TimestampFormat = "HH:mm:ss.fff "; })
    .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace)
    .SetMinimumLevel(LogLevel.Information));
await using var silo = new ClusterSilo(options, TestSiloHost.AddGrains, loggers);
var terminate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    terminate.TrySetResult();
});

await silo.StartAsync(CancellationToken.None);
Console.Out.WriteLine(TestSiloHost.ReadyLine + silo.Address);
Console.Out.Flush();

if (await Task.WhenAny(terminate.Task, silo.DeclaredDead) == silo.DeclaredDead)
{
    Console.Out.WriteLine(TestSiloHost.DeclaredDeadLine);
    return TestSiloHost.DeclaredDeadExitCode;
}
await silo.StopAsync(CancellationToken.None);
return 0;

static int Fail(string message)
{
    Console.Error.WriteLine($"{message}\n{usage}");
    return TestSiloHost.BadArgumentsExitCode;
}
