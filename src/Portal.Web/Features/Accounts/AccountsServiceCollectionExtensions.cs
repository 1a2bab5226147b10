using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Identity;
using Portal.Data;
using Portal.Web.Features.CustomerLink;

namespace Portal.Web.Features.Accounts;

/// <summary>Registers and maps accounts: Identity with cookies for the console, API keys for REST.</summary>
public static class AccountsServiceCollectionExtensions
{
    /// <summary>Adds Identity, the API-key and customer-link schemes, and the portal's policies.</summary>
    public static IServiceCollection AddAccounts(this IServiceCollection services)
    {
        services.AddAuthentication(o =>
            {
                o.DefaultScheme = IdentityConstants.ApplicationScheme;
                o.DefaultSignInScheme = IdentityConstants.ExternalScheme;
            })
            .AddIdentityCookies(cookies => cookies.ApplicationCookie?.Configure(o =>
            {
                o.LoginPath = "/account/login";
                o.LogoutPath = "/account/logout";
                o.AccessDeniedPath = "/account/denied";
                o.Cookie.Name = "portal.auth";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.SlidingExpiration = true;
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
            }));
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, CustomerLinkAuthenticationHandler>(CustomerLinkAuthenticationHandler.SchemeName, null);

        services.AddIdentityCore<PortalUser>(o =>
            {
                o.User.RequireUniqueEmail = true;
                o.Password.RequiredLength = 12;
                o.Password.RequireDigit = false;
                o.Password.RequireLowercase = false;
                o.Password.RequireUppercase = false;
                o.Password.RequireNonAlphanumeric = false;
                o.Lockout.MaxFailedAccessAttempts = 10;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(5);
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<PortalDbContext>()
            .AddSignInManager<PortalSignInManager>()
            .AddDefaultTokenProviders()
            .AddPasswordValidator<CommonPasswords>();

        // The cookie is checked against the account on every request: a demotion, a disabling or a log-out elsewhere
        // takes effect on the next request of any copy of the cookie (cost measured in the README: one user and one
        // roles query per console request; the console makes few, its circuit carries the rest).
        services.Configure<SecurityStampValidatorOptions>(o => o.ValidationInterval = TimeSpan.Zero);
        services.AddScoped<AuthenticationStateProvider, ConsoleRevalidation>();
        services.AddSingleton<LoginThrottle>();

        services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Engineer, p => p
                .AddAuthenticationSchemes(IdentityConstants.ApplicationScheme)
                .RequireAuthenticatedUser()
                .RequireRole(Roles.Admin, Roles.Engineer))
            .AddPolicy(Policies.ApiClient, p => p
                .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser()
                .RequireRole(Roles.Admin, Roles.Engineer))
            .AddPolicy(Policies.Admin, p => p
                .AddAuthenticationSchemes(IdentityConstants.ApplicationScheme)
                .RequireAuthenticatedUser()
                .RequireRole(Roles.Admin))
            .AddPolicy(Policies.ApiAdmin, p => p
                .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser()
                .RequireRole(Roles.Admin))
            .AddPolicy(Policies.Customer, p => p
                .AddAuthenticationSchemes(CustomerLinkAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser()
                .RequireClaim(CustomerLinkAuthenticationHandler.SessionClaim));
        services.AddScoped<Bootstrap>();
        return services;
    }

    /// <summary>Maps the log-out endpoint; the log-in page is a component.</summary>
    public static IEndpointRouteBuilder MapAccounts(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/account/logout", async Task<IResult> (HttpContext context, IAntiforgery antiforgery, SignInManager<PortalUser> signIn, UserManager<PortalUser> users) =>
        {
            // Only the console's own form may log a user out: a cross-site post carries no antiforgery token.
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                return TypedResults.Problem(title: "Log-out refused.", detail: "The log-out form's antiforgery token is missing or invalid: log out from the portal's own page.", statusCode: StatusCodes.Status400BadRequest);
            }

            // A new security stamp ends this account's console sessions everywhere, copies of the cookie included:
            // a log-out is server-side, not just the deletion of one browser's cookie.
            if (await users.GetUserAsync(context.User) is { } user)
            {
                await users.UpdateSecurityStampAsync(user);
            }

            await signIn.SignOutAsync();
            return TypedResults.LocalRedirect("/account/login");
        }).DisableAntiforgery();
        return endpoints;
    }
}
