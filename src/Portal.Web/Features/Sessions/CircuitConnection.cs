using Microsoft.AspNetCore.Components.Server.Circuits;

namespace Portal.Web.Features.Sessions;

/// <summary>
/// Whether this circuit's browser is connected. Blazor keeps a circuit (and its pages and timers) for minutes after the
/// browser has gone, hoping it reconnects; presence must not count such a page as watching.
/// </summary>
public sealed class CircuitConnection : CircuitHandler
{
    /// <summary>True while the browser is connected.</summary>
    public bool Connected { get; private set; } = true;

    /// <summary>Raised with the new state when the browser's connection goes down or comes back.</summary>
    public event Func<bool, Task>? Changed;

    /// <inheritdoc />
    public override Task OnConnectionDownAsync(Circuit circuit, CancellationToken cancellationToken) => SetAsync(false);

    /// <inheritdoc />
    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken) => SetAsync(true);

    private Task SetAsync(bool connected)
    {
        if (Connected == connected)
        {
            return Task.CompletedTask;
        }

        Connected = connected;
        return Changed is { } changed ? Task.WhenAll(changed.GetInvocationList().Cast<Func<bool, Task>>().Select(handler => handler(connected))) : Task.CompletedTask;
    }
}
