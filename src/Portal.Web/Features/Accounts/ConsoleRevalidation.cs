using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Portal.Data;

namespace Portal.Web.Features.Accounts;

/// <summary>
/// Checks an open console (a Blazor circuit) against the database every <see cref="PortalOptions.ConsoleRevalidation"/> (20 s): when the account was
/// disabled, deleted, demoted or logged out elsewhere (its security stamp changed), the circuit's user becomes
/// anonymous and every page shows the log-in link instead of data. A cookie only proves who logged in; this says
/// whether they still may.
/// </summary>
public sealed class ConsoleRevalidation(ILoggerFactory loggers, IServiceScopeFactory scopes, IOptions<PortalOptions> portal)
    : RevalidatingServerAuthenticationStateProvider(loggers)
{
    /// <inheritdoc />
    protected override TimeSpan RevalidationInterval => portal.Value.ConsoleRevalidation;

    /// <inheritdoc />
    protected override async Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(authenticationState);
        await using var scope = scopes.CreateAsyncScope();
        var signIn = scope.ServiceProvider.GetRequiredService<SignInManager<PortalUser>>();

        // The same check a request's cookie gets (PortalSignInManager): the account exists, is not disabled, and its
        // security stamp is the one the circuit was opened with.
        var user = await signIn.ValidateSecurityStampAsync(authenticationState.User);
        if (user is null)
        {
            return false;
        }

        // The roles the circuit was opened with must still be the account's.
        var roles = await signIn.UserManager.GetRolesAsync(user);
        return authenticationState.User.FindAll(signIn.Options.ClaimsIdentity.RoleClaimType).Select(c => c.Value).Order().SequenceEqual(roles.Order());
    }
}
