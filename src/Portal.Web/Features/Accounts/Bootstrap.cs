using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Portal.Data;

namespace Portal.Web.Features.Accounts;

/// <summary>
/// Makes sure someone can log in: the roles exist; the configured admin and API key exist; and when nothing is
/// configured and there are no users at all, an admin with a random password is created and its password printed
/// once on the console.
/// </summary>
public sealed partial class Bootstrap(
    UserManager<PortalUser> users,
    RoleManager<IdentityRole> roles,
    PortalDbContext db,
    IOptions<PortalOptions> options,
    TimeProvider time,
    ILogger<Bootstrap> logger)
{
    /// <summary>The e-mail of the admin made when nothing is configured.</summary>
    public const string DefaultAdminEmail = "admin@portal.local";

    /// <summary>Runs the bootstrap; safe to run at every start.</summary>
    public async Task RunAsync(TextWriter console, CancellationToken cancellationToken)
    {
        foreach (var role in Roles.All)
        {
            if (!await roles.RoleExistsAsync(role))
            {
                Check(await roles.CreateAsync(new IdentityRole(role)));
            }
        }

        var settings = options.Value.Bootstrap;
        PortalUser? admin = null;
        if (!string.IsNullOrWhiteSpace(settings.AdminEmail))
        {
            admin = await EnsureAdminAsync(settings.AdminEmail, settings.AdminPassword);
        }
        else if (!await users.Users.AnyAsync(cancellationToken))
        {
            var password = RandomPassword();
            admin = await EnsureAdminAsync(DefaultAdminEmail, password);
            await console.WriteLineAsync(
                $"""

                 ┌───────────────────────────────────────────────────────────────────┐
                   First start: an admin account was created. This is shown once.
                     e-mail:   {DefaultAdminEmail}
                     password: {password}
                   Set Portal__Bootstrap__AdminEmail and __AdminPassword to choose your own.
                 └───────────────────────────────────────────────────────────────────┘

                """.AsMemory(), cancellationToken);
        }

        if (!string.IsNullOrWhiteSpace(settings.ApiKey))
        {
            admin ??= (await users.GetUsersInRoleAsync(Roles.Admin)).OrderBy(u => u.CreatedAt).FirstOrDefault()
                ?? await EnsureAdminAsync(DefaultAdminEmail, RandomPassword());
            await EnsureApiKeyAsync(settings.ApiKey.Trim(), admin, cancellationToken);
        }
    }

    private async Task<PortalUser> EnsureAdminAsync(string email, string? password)
    {
        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            user = new PortalUser { UserName = email, Email = email, EmailConfirmed = true, CreatedAt = time.GetUtcNow() };
            Check(string.IsNullOrEmpty(password) ? await users.CreateAsync(user, RandomPassword()) : await users.CreateAsync(user, password));
            LogAdminCreated(email);
        }
        else if (!string.IsNullOrEmpty(password) && !await users.CheckPasswordAsync(user, password))
        {
            // Configuration is the source of truth for the bootstrap admin's password.
            var reset = await users.GeneratePasswordResetTokenAsync(user);
            Check(await users.ResetPasswordAsync(user, reset, password));
            LogAdminPasswordSet(email);
        }

        if (!await users.IsInRoleAsync(user, Roles.Admin))
        {
            Check(await users.AddToRoleAsync(user, Roles.Admin));
        }

        return user;
    }

    private async Task EnsureApiKeyAsync(string key, PortalUser owner, CancellationToken cancellationToken)
    {
        if (!key.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal) || key.Length < ApiKeys.Prefix.Length + 32)
        {
            throw new InvalidOperationException(
                $"Portal:Bootstrap:ApiKey must start with '{ApiKeys.Prefix}' and have at least 32 characters after it, for example {ApiKeys.NewKey()}");
        }

        var hash = ApiKeys.Hash(key);
        var existing = await db.ApiKeys.FirstOrDefaultAsync(k => k.KeyHash == hash, cancellationToken);
        if (existing is null)
        {
            db.ApiKeys.Add(new ApiKey
            {
                Id = Guid.CreateVersion7(),
                Name = "bootstrap",
                KeyHash = hash,
                Prefix = key[..(ApiKeys.Prefix.Length + 4)],
                UserId = owner.Id,
                CreatedAt = time.GetUtcNow(),
            });
        }
        else
        {
            existing.RevokedAt = null;
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    private static string RandomPassword() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(18));

    private static void Check(IdentityResult result)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException("Bootstrap failed: " + string.Join(" ", result.Errors.Select(e => e.Description)));
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Bootstrap admin {Email} created")]
    private partial void LogAdminCreated(string email);

    [LoggerMessage(Level = LogLevel.Information, Message = "Bootstrap admin {Email}: password set from configuration")]
    private partial void LogAdminPasswordSet(string email);
}
