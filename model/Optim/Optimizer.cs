using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

/// <summary>
/// Base of the optimizers, shaped like torch.optim.Optimizer: built over parameters (or parameter groups),
/// <see cref="Step"/> updates every parameter that has a gradient, <see cref="ZeroGrad"/> drops the gradients.
/// Updates run in place under <see cref="LibTorch.NoGrad"/>. The per-parameter state tensors (moments,
/// momentum buffers) belong to the optimizer and are freed by <see cref="Dispose"/>; the parameters are not.
/// </summary>
/// <remarks>
/// <para>Gradient accumulation needs no helper: backward() adds into .grad, so running k micro-batches,
/// each calling <c>(loss / k).Backward()</c>, before one <see cref="Step"/> yields the gradient of the mean
/// loss over the k micro-batches (one batch k times as large, when each loss is a mean over equal batches).
/// Call <see cref="ZeroGrad"/> after the step, not between micro-batches.</para>
/// <para>Non-finite gradients are not special-cased: a NaN or infinite gradient flows into the parameters
/// and state as it would in PyTorch. Detecting it (e.g. from the norm <see cref="GradientClipping.ClipGradNorm"/>
/// returns) and skipping the step is the trainer's decision.</para>
/// </remarks>
public abstract class Optimizer : IDisposable
{
    private readonly Tensor[] parameters;
    private readonly OptimizerGroup[] groupOf;
    private readonly ParameterState?[] states;
    private readonly bool maximize;
    private bool disposed;

    protected Optimizer(IEnumerable<ParameterGroup> groups, OptimizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(options);
        maximize = options.Maximize;
        var resolved = new List<OptimizerGroup>();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var group in groups)
        {
            var g = resolved.Count;
            var members = group.Parameters.ToList();
            if (members.Count == 0) throw new ArgumentException($"parameter group {g} has no parameters", nameof(groups));
            foreach (var parameter in members)
            {
                if (!seen.Add(parameter))
                    throw new ArgumentException($"a parameter of group {g} appears more than once in the optimizer's parameters", nameof(groups));
                if (!parameter.IsLeaf)
                    throw new ArgumentException($"group {g} holds a non-leaf tensor (computed from others); only leaves can be optimized", nameof(groups));
            }
            resolved.Add(new OptimizerGroup(members,
                Argument.NonNegative(group.LearningRate ?? options.LearningRate, $"groups[{g}].{nameof(ParameterGroup.LearningRate)}"),
                Argument.NonNegative(group.WeightDecay ?? options.WeightDecay, $"groups[{g}].{nameof(ParameterGroup.WeightDecay)}")));
        }
        if (resolved.Count == 0) throw new ArgumentException("the optimizer got no parameters", nameof(groups));
        Groups = resolved;
        parameters = [.. resolved.SelectMany(g => g.Parameters)];
        groupOf = [.. resolved.SelectMany(g => g.Parameters.Select(_ => g))];
        states = new ParameterState?[parameters.Length];
    }

    public IReadOnlyList<OptimizerGroup> Groups { get; }

    /// <summary>
    /// The learning rate of every group. Setting it (as a schedule does each step) sets all groups; reading
    /// it requires the groups to agree.
    /// </summary>
    public double LearningRate
    {
        get
        {
            var first = Groups[0].LearningRate;
            return Groups.All(g => g.LearningRate == first)
                ? first
                : throw new InvalidOperationException("the parameter groups have different learning rates; read Groups[i].LearningRate");
        }
        set
        {
            Argument.NonNegative(value, nameof(LearningRate));
            foreach (var group in Groups) group.LearningRate = value;
        }
    }

    /// <summary>The names of the state tensors kept per parameter (they depend on the options).</summary>
    protected abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>Applies one update to every parameter with a gradient; parameters without one keep their value and state.</summary>
    public void Step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var noGrad = LibTorch.NoGrad();
        for (var i = 0; i < parameters.Length; i++)
        {
            using var scope = DisposeScope.Enter();
            var gradient = parameters[i].Grad;
            if (gradient is null) continue;
            var state = states[i] ??= NewState(parameters[i], step: 0);
            state.Step++;
            Update(parameters[i], gradient, state, groupOf[i]);
        }
    }

    /// <summary>Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad()
    {
        foreach (var parameter in parameters) parameter.ZeroGrad();
    }

    /// <summary>The state, in the flat form of <see cref="OptimizerState"/>. The tensors are the optimizer's own, not copies: save them before the next step.</summary>
    public OptimizerState StateDict()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var tensors = new Dictionary<string, Tensor>();
        for (var i = 0; i < states.Length; i++)
        {
            if (states[i] is not { } state) continue;
            foreach (var (name, tensor) in state.Tensors) tensors[StateKey(i, name)] = tensor;
        }
        return new OptimizerState(tensors, [.. states.Select(s => s?.Step ?? 0)]);
    }

    /// <summary>
    /// Copies a saved state into this optimizer (built over parameters of the same shapes, in the same order,
    /// with options that keep the same state tensors). Everything is checked before anything changes.
    /// </summary>
    public void LoadStateDict(OptimizerState state)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(state);
        if (state.Steps.Count != parameters.Length)
            throw new ArgumentException($"the state has step counts for {state.Steps.Count} parameters, the optimizer has {parameters.Length}", nameof(state));
        var negative = Enumerable.Range(0, parameters.Length).Where(i => state.Steps[i] < 0).ToList();
        if (negative.Count > 0)
            throw new ArgumentException($"negative step counts for parameters [{string.Join(", ", negative)}]", nameof(state));

        var expected = Enumerable.Range(0, parameters.Length)
            .Where(i => state.Steps[i] > 0)
            .SelectMany(i => StateNames.Select(name => StateKey(i, name)))
            .ToHashSet();
        var missing = expected.Except(state.Tensors.Keys).Order().ToList();
        var unexpected = state.Tensors.Keys.Except(expected).Order().ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new ArgumentException(
                $"optimizer state does not match the optimizer: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]",
                nameof(state));
        for (var i = 0; i < parameters.Length; i++)
        {
            if (state.Steps[i] == 0) continue;
            foreach (var name in StateNames)
            {
                var source = state.Tensors[StateKey(i, name)];
                if (!source.Shape.SequenceEqual(parameters[i].Shape))
                    throw new ArgumentException(
                        $"optimizer state '{StateKey(i, name)}' has shape [{string.Join(", ", source.Shape)}], parameter {i}'s is [{string.Join(", ", parameters[i].Shape)}]",
                        nameof(state));
            }
        }

        using var noGrad = LibTorch.NoGrad();
        for (var i = 0; i < parameters.Length; i++)
        {
            states[i]?.Dispose();
            states[i] = null;
            if (state.Steps[i] == 0) continue;
            var loaded = NewState(parameters[i], state.Steps[i]);
            foreach (var (name, tensor) in loaded.Tensors) tensor.CopyFrom(state.Tensors[StateKey(i, name)]);
            states[i] = loaded;
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var state in states) state?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Updates <paramref name="parameter"/> in place; runs under NoGrad inside a dispose scope, after the step count was incremented.</summary>
    protected abstract void Update(Tensor parameter, Tensor gradient, ParameterState state, OptimizerGroup group);

    /// <summary>Sets a new state tensor's initial value (they start at zero).</summary>
    protected virtual void InitializeState(string name, Tensor state)
    {
    }

    /// <summary>
    /// The gradient as the update rules see it: g ← −g when maximizing, then g ← g + λθ for an L2 penalty λ.
    /// May be the .grad tensor itself, so callers must not modify it in place.
    /// </summary>
    protected Tensor Direction(Tensor gradient, Tensor parameter, double l2Penalty)
    {
        var g = maximize ? gradient.Neg() : gradient;
        return l2Penalty != 0 ? g.Add(parameter, l2Penalty) : g;
    }

    private static string StateKey(int parameterIndex, string name) => $"{parameterIndex}.{name}";

    private ParameterState NewState(Tensor parameter, long step)
    {
        var tensors = new Dictionary<string, Tensor>();
        var state = new ParameterState(step, tensors);
        foreach (var name in StateNames)
        {
            tensors[name] = Tensor.Zeros(parameter.Shape, parameter.DType, parameter.Device).DetachFromDisposeScope();
            InitializeState(name, tensors[name]);
        }
        return state;
    }

    /// <summary>One parameter's update count and state tensors.</summary>
    protected sealed class ParameterState : IDisposable
    {
        internal ParameterState(long step, Dictionary<string, Tensor> tensors)
        {
            Step = step;
            Tensors = tensors;
        }

        /// <summary>Updates applied so far, this one included: 1 at the first.</summary>
        public long Step { get; internal set; }

        internal IReadOnlyDictionary<string, Tensor> Tensors { get; }

        public Tensor this[string name] => Tensors[name];

        public void Dispose()
        {
            foreach (var tensor in Tensors.Values) tensor.Dispose();
        }
    }
}
