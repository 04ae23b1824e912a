using System.Linq.Expressions;
using System.Reflection;

namespace OrleansLm.Runtime.Invocation;

/// <summary>
/// One grain interface method with the delegates that call it, compiled once so a call costs a delegate invocation,
/// not a reflection Invoke: the grain-side invoker, the result reader and the caller-side conversion to Task&lt;T&gt;.
/// </summary>
public sealed class GrainMethod
{
    private static readonly MethodInfo TypedTaskMethod = typeof(GrainMethod).GetMethod(nameof(TypedTask), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo ResultOfMethod = typeof(GrainMethod).GetMethod(nameof(ResultOf), BindingFlags.NonPublic | BindingFlags.Static)!;

    internal GrainMethod(MethodInfo method)
    {
        InterfaceMethod = method;
        var parameterTypes = method.GetParameters().Select(p => p.ParameterType).ToArray();
        ParameterTypes = parameterTypes;
        CancellationTokenIndex = Array.IndexOf(parameterTypes, typeof(CancellationToken));
        ResultType = method.ReturnType == typeof(Task) ? null : method.ReturnType.GetGenericArguments()[0];
        Key = $"{method.DeclaringType!.FullName}.{method.Name}({string.Join(",", ParameterTypes.Select(t => t.FullName))})";
        Name = $"{method.DeclaringType.Name}.{method.Name}";

        Invoke = CompileInvoker(method, parameterTypes);
        if (ResultType is null)
        {
            GetResult = static _ => null;
            ToCallerTask = static task => task;
        }
        else
        {
            GetResult = ResultOfMethod.MakeGenericMethod(ResultType).CreateDelegate<Func<Task, object?>>();
            ToCallerTask = TypedTaskMethod.MakeGenericMethod(ResultType).CreateDelegate<Func<Task<object?>, Task>>();
        }
    }

    public MethodInfo InterfaceMethod { get; }

    /// <summary>Names the method on the wire: declaring interface, name and parameter types, e.g. "Ns.IFoo.Add(System.Int32)".</summary>
    public string Key { get; }

    /// <summary>"IFoo.Add", for messages.</summary>
    public string Name { get; }

    public IReadOnlyList<Type> ParameterTypes { get; }

    /// <summary>The T of Task&lt;T&gt;; null for a method returning Task.</summary>
    public Type? ResultType { get; }

    /// <summary>The position of the CancellationToken parameter, which receives the call's token; -1 when there is none.</summary>
    public int CancellationTokenIndex { get; }

    /// <summary>Calls the method on a grain object with the call's arguments; returns the method's task.</summary>
    internal Func<object, object?[], Task> Invoke { get; }

    /// <summary>The boxed result of a task <see cref="Invoke"/> returned, once it completed successfully.</summary>
    internal Func<Task, object?> GetResult { get; }

    /// <summary>Turns the runtime's Task&lt;object?&gt; into the Task or Task&lt;T&gt; the interface method returns.</summary>
    internal Func<Task<object?>, Task> ToCallerTask { get; }

    public override string ToString() => Name;

    /// <summary>Why <paramref name="method"/> cannot be a grain method, or null.</summary>
    internal static string? Problem(MethodInfo method)
    {
        var name = $"{method.DeclaringType?.Name}.{method.Name}";
        var returns = method.ReturnType;
        if (method.IsSpecialName) return $"{name} is a property or event accessor; grain interfaces have only methods";
        if (returns != typeof(Task) && !(returns.IsGenericType && returns.GetGenericTypeDefinition() == typeof(Task<>)))
            return $"{name} returns {returns.Name}; grain methods must return Task or Task<T>";
        if (method.IsGenericMethodDefinition) return $"{name} is generic; grain methods cannot be";
        var parameters = method.GetParameters();
        if (parameters.FirstOrDefault(p => p.ParameterType.IsByRef || p.ParameterType.IsPointer || p.ParameterType.IsByRefLike) is { } byRef)
            return $"{name} takes parameter '{byRef.Name}' by reference; grain methods take values";
        if (parameters.Count(p => p.ParameterType == typeof(CancellationToken)) > 1)
            return $"{name} takes more than one CancellationToken";
        return null;
    }

    /// <summary>(grain, args) => ((TInterface)grain).Method((T0)args[0], (T1)args[1], ...)</summary>
    private static Func<object, object?[], Task> CompileInvoker(MethodInfo method, Type[] parameterTypes)
    {
        var grain = Expression.Parameter(typeof(object), "grain");
        var args = Expression.Parameter(typeof(object?[]), "args");
        var call = Expression.Call(
            Expression.Convert(grain, method.DeclaringType!),
            method,
            parameterTypes.Select((type, i) => Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), type)));
        return Expression.Lambda<Func<object, object?[], Task>>(call, grain, args).Compile();
    }

    private static object? ResultOf<T>(Task task) => ((Task<T>)task).Result;

    private static Task TypedTask<T>(Task<object?> task) =>
        task.IsCompletedSuccessfully ? Task.FromResult((T)task.Result!) : Await<T>(task);

    private static async Task<T> Await<T>(Task<object?> task) => (T)(await task.ConfigureAwait(false))!;
}
