using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

/// <summary>
/// Parameters that share a learning rate and weight decay (PyTorch's param_groups); null takes the
/// optimizer's option. Typical use: AdamW with weight decay on matrices and none on biases and gains.
/// </summary>
public sealed record ParameterGroup(IEnumerable<Tensor> Parameters, double? LearningRate = null, double? WeightDecay = null);

/// <summary>A parameter group as the optimizer holds it: its settings resolved, its learning rate settable by schedules.</summary>
public sealed class OptimizerGroup
{
    internal OptimizerGroup(IReadOnlyList<Tensor> parameters, double learningRate, double weightDecay)
    {
        Parameters = parameters;
        LearningRate = learningRate;
        WeightDecay = Argument.NonNegative(weightDecay, nameof(WeightDecay));
    }

    public IReadOnlyList<Tensor> Parameters { get; }

    public double LearningRate { get; set => field = Argument.NonNegative(value, nameof(LearningRate)); }

    public double WeightDecay { get; }
}
