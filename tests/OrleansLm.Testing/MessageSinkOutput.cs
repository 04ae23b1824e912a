using Xunit.Abstractions;
using Xunit.Sdk;

namespace OrleansLm.Testing;

/// <summary>
/// A test output for fixtures, which get no <see cref="ITestOutputHelper"/>: lines go to xUnit's diagnostic messages
/// (shown when xunit.runner.json turns diagnosticMessages on).
/// </summary>
public sealed class MessageSinkOutput(IMessageSink sink) : ITestOutputHelper
{
    public void WriteLine(string message) => sink.OnMessage(new DiagnosticMessage(message));

    public void WriteLine(string format, params object[] args) => sink.OnMessage(new DiagnosticMessage(format, args));
}
