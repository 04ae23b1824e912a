using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// The loss of one batch part and the evaluation loop, shared by the single-process <see cref="Trainer"/> and the
/// data-parallel replicas so that both compute exactly the same thing.
/// </summary>
internal static class BatchLoss
{
    /// <summary>
    /// The mean loss of part <paramref name="part"/> of batch <paramref name="index"/> and its target count. A recurrent
    /// model starts from <paramref name="start"/> (zeros when null) and Final is the state it ended in; null for other models.
    /// </summary>
    public static (Tensor Loss, long Tokens, RnnState? Final) Compute(ILanguageModel model, IBatchSource source, long index, int part, int parts, RnnState? start, Precision precision)
    {
        var (inputs, targets) = source.Batch(index, part, parts);
        return Compute(model, inputs, targets, start, precision);
    }

    /// <summary>
    /// The mean loss of <paramref name="inputs"/> [B, T] against <paramref name="targets"/> [B, T], as the other overload:
    /// the batch goes to the model's device, and the forward pass runs in <paramref name="precision"/> (the loss is Float32
    /// either way, and the caller's backward runs outside the autocast region, as PyTorch recommends).
    /// </summary>
    public static (Tensor Loss, long Tokens, RnnState? Final) Compute(ILanguageModel model, Tensor inputs, Tensor targets, RnnState? start, Precision precision)
    {
        var device = TrainingDevices.DeviceOf(model.Parameters());
        if (inputs.Device != device) (inputs, targets) = (inputs.To(device), targets.To(device));
        using var forward = TrainingDevices.ForwardPass(device, precision);
        if (model is not IRecurrentLanguageModel recurrent)
            return (model.Loss(inputs, targets), targets.NumElements, null);
        var (logits, final) = recurrent.Forward(inputs, start);
        return (NextTokenLoss.FromLogits(logits, targets), targets.NumElements, final);
    }

    /// <summary>
    /// <see cref="Compute"/>, starting where the previous batch left <paramref name="states"/>[<paramref name="part"/>]
    /// when the source continues it, and leaving the new state there (truncated BPTT).
    /// </summary>
    public static (Tensor Loss, long Tokens) Carrying(ILanguageModel model, IBatchSource source, long index, int part, int parts, CarriedStates states, Precision precision)
    {
        var (loss, tokens, final) = Compute(model, source, index, part, parts, source.ContinuesPreviousBatch(index) ? states[part] : null, precision);
        if (final is not null) states.Carry(part, final);
        return (loss, tokens);
    }

    /// <summary>Mean loss over batches 0..<paramref name="batches"/>−1 of <paramref name="source"/>, in eval mode (restored after).</summary>
    public static double Evaluate(ILanguageModel model, Module module, IBatchSource source, int batches, Precision precision)
    {
        var wasTraining = module.Training;
        module.Eval();
        using var states = new CarriedStates(1);
        try
        {
            using var noGrad = LibTorch.NoGrad();
            double total = 0;
            for (var i = 0; i < batches; i++)
            {
                using var scope = DisposeScope.Enter();
                total += Carrying(model, source, i, 0, 1, states, precision).Loss.ToDouble();
            }
            return total / batches;
        }
        finally
        {
            module.Train(wasTraining);
        }
    }
}
