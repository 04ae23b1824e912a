using OrleansLm.Runtime.Invocation;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Cluster;

/// <summary>
/// The remote path of grain calls: encodes the call with this silo's codec, sends it over the transport with the
/// call's timeout and token, decodes the result or rethrows the remote exception. The codec is taken lazily because
/// the runtime that owns it is built after this sender.
/// </summary>
public sealed class TransportGrainCallSender(ISiloTransport transport, Func<GrainCallCodec> codec) : IRemoteGrainCallSender
{
    public async Task<object?> SendAsync(SiloAddress silo, GrainCall call)
    {
        var grainCodec = codec();
        var request = grainCodec.EncodeRequest(call, [(byte)ClusterMessageKind.GrainCall]);
        var response = await transport.SendAsync(silo, request, call.Timeout, call.CancellationToken).ConfigureAwait(false);
        return grainCodec.DecodeResponse(call.Method, response.Span);
    }
}
